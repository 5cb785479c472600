using System.Text;
using Akka.Actor;
using Akka.Event;
using Paseo.Transport.Files;
using Paseo.Transport.Protocol;

namespace Paseo.Actors.Agents;

/// <summary>
/// `$PASEO_HOME/agents`: one atomic JSON file per agent and, beyond Paseo, its timeline as JSON lines beside it
/// (`&lt;id&gt;.timeline.jsonl`), so a restart loses no history. Runs on the blocking-io dispatcher: file writes never
/// hold an agent's or a session's thread. Messages from one agent are handled in order.
/// </summary>
public sealed class AgentStore : ReceiveActor
{
    public const string DispatcherId = Hosting.PaseoDispatchers.BlockingIo;

    private readonly ILoggingAdapter _log = Context.GetLogger();
    private readonly string _root;
    private readonly Dictionary<string, FileStream> _timelines = [];
    private readonly Dictionary<string, long> _rowsOnDisk = [];
    private readonly int _retainedRows;
    private readonly int _memoryRows;
    private readonly SemaphoreSlim _historyReads;
    private static readonly TimeSpan HistoryReadWait = TimeSpan.FromSeconds(8);

    /// <param name="retainedRows">Timeline rows kept per agent; a file that grows to twice that is rewritten with the newest ones.</param>
    /// <param name="memoryRows">Rows of each timeline handed to its agent at start (the rest stay on disk until a fetch needs them).</param>
    /// <param name="concurrentHistoryReads">Timeline files read at once for old-history fetches (off this actor's thread).</param>
    public AgentStore(string agentsDirectory, int retainedRows = int.MaxValue, int memoryRows = int.MaxValue, int concurrentHistoryReads = 2)
    {
        _root = agentsDirectory;
        _retainedRows = retainedRows;
        _memoryRows = memoryRows;
        _historyReads = new SemaphoreSlim(concurrentHistoryReads, concurrentHistoryReads);
        Receive<AgentStoreProtocol.SaveRecord>(save =>
        {
            try
            {
                var dir = DirectoryFor(save.Record.Cwd);
                PrivateFiles.WriteAtomically(Path.Combine(dir, save.Record.Id + ".json"), save.Record.ToJson());
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                // The previous file stays whole (atomic write); the next change writes the record again.
                _log.Error(e, "Could not save agent {0}", save.Record.Id);
            }
        });
        Receive<AgentStoreProtocol.AppendRows>(append =>
        {
            try
            {
                var stream = TimelineStream(append.AgentId, append.Cwd);
                var text = new StringBuilder();
                foreach (var row in append.Rows) text.Append(AgentTimeline.ToLine(row)).Append('\n');
                stream.Write(Encoding.UTF8.GetBytes(text.ToString()));
                // Handed to the kernel: a killed daemon loses nothing written here (a power cut may lose the last moments).
                stream.Flush(flushToDisk: false);
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                // Disk full, permissions: the rows stay in the agent's memory; the file is reopened (torn tail cut) next time.
                _log.Error(e, "Could not append {0} timeline rows of agent {1}", append.Rows.Count, append.AgentId);
                if (_timelines.Remove(append.AgentId, out var broken)) broken.Dispose();
                var path = Path.Combine(_root, AgentRecord.ProjectDir(append.Cwd), append.AgentId + ".timeline.jsonl");
                if (File.Exists(path)) CutTornTail(path);
                return;
            }
            var count = _rowsOnDisk.GetValueOrDefault(append.AgentId) + append.Rows.Count;
            _rowsOnDisk[append.AgentId] = count;
            if (_retainedRows != int.MaxValue && count >= 2L * _retainedRows && Compact(append.AgentId, append.Cwd) is { } firstKept)
                Sender.Tell(new AgentStoreProtocol.TimelineCompacted(firstKept));
        });
        Receive<AgentStoreProtocol.DeleteAgent>(delete =>
        {
            _rowsOnDisk.Remove(delete.AgentId);
            if (_timelines.Remove(delete.AgentId, out var stream)) stream.Dispose();
            var dir = Path.Combine(_root, AgentRecord.ProjectDir(delete.Cwd));
            foreach (var file in new[] { delete.AgentId + ".json", delete.AgentId + ".timeline.jsonl" })
            {
                var path = Path.Combine(dir, file);
                try
                {
                    if (File.Exists(path)) File.Delete(path);
                }
                catch (Exception e) when (e is IOException or UnauthorizedAccessException)
                {
                    _log.Error(e, "Could not delete {0}", path);
                }
            }
            // Answered only now, so "deleted" means the files are gone; then every session hears it.
            if (delete.Answer is not null) delete.ReplyTo?.Tell(delete.Answer);
            if (delete.Removed is not null) Context.System.EventStream.Publish(delete.Removed);
        });
        Receive<AgentStoreProtocol.LoadAll>(_ => Sender.Tell(LoadAll()));
        // A whole timeline file is read off this actor's thread (at most max-concurrent-history-reads at once), so the
        // appends of every other agent never wait for an old-history fetch. The appender shares the file: a row being
        // written meanwhile is a torn last line, skipped (the agent answers it from memory).
        Receive<AgentStoreProtocol.ReadTimeline>(read =>
        {
            var path = Path.Combine(_root, AgentRecord.ProjectDir(read.Cwd), read.AgentId + ".timeline.jsonl");
            var reads = _historyReads;
            Task.Run(async () =>
            {
                // Whoever asked gives up after 8 s: a read still waiting for its turn by then is dropped, not done for nobody.
                if (!await reads.WaitAsync(HistoryReadWait))
                    throw new TimeoutException($"too many old-history reads at once (paseo.agents.max-concurrent-history-reads); try again");
                try
                {
                    var (rows, _, _) = File.Exists(path) ? ReadRows(path, int.MaxValue) : ([], null, 0);
                    return new AgentStoreProtocol.TimelineRead(rows);
                }
                finally
                {
                    reads.Release();
                }
            }).PipeTo(Sender);
        });
        // Everything sent before this message is written once it is answered (the mailbox is FIFO).
        Receive<AgentStoreProtocol.Flush>(_ => Sender.Tell(Akka.Done.Instance));
    }

    public static Props Props(string agentsDirectory, int retainedRows = int.MaxValue, int memoryRows = int.MaxValue, int concurrentHistoryReads = 2) =>
        Akka.Actor.Props.Create(() => new AgentStore(agentsDirectory, retainedRows, memoryRows, concurrentHistoryReads)).WithDispatcher(DispatcherId);

    /// <summary>
    /// Rewrites a timeline file with its newest retained rows (atomically: a crash leaves the old file or the new one).
    /// Returns the seq of the oldest row kept.
    /// </summary>
    private long? Compact(string agentId, string cwd)
    {
        if (_timelines.Remove(agentId, out var stream)) stream.Dispose();
        var path = Path.Combine(DirectoryFor(cwd), agentId + ".timeline.jsonl");
        var kept = File.ReadLines(path).Where(l => l.Length > 0).TakeLast(_retainedRows).ToList();
        PrivateFiles.WriteAtomically(path, string.Join('\n', kept) + "\n");
        _rowsOnDisk[agentId] = kept.Count;
        return kept.Count > 0 ? AgentTimeline.FromLine(kept[0])?.Seq : null;
    }

    /// <summary>The contiguous committed rows of a timeline file: the newest <paramref name="keep"/>, the first seq, and how many there are.</summary>
    private static (List<TimelineRow> Rows, long? FirstSeq, long Count) ReadRows(string path, int keep)
    {
        var rows = new Queue<TimelineRow>();
        long? first = null;
        long last = 0, count = 0;
        using var reader = new StreamReader(new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete));
        while (reader.ReadLine() is { } line)
        {
            if (line.Length == 0) continue;
            // A line that is not a whole row (torn, damaged) is skipped, and so is a row out of order; the rows after it
            // still count, so one bad line never hides the history that follows.
            if (AgentTimeline.FromLine(line) is not { } row || (first is not null && row.Seq <= last)) continue;
            first ??= row.Seq;
            last = row.Seq;
            count++;
            rows.Enqueue(row);
            if (rows.Count > keep) rows.Dequeue();
        }
        return ([.. rows], first, count);
    }

    protected override void PostStop()
    {
        foreach (var stream in _timelines.Values) stream.Dispose();
        _timelines.Clear();
    }

    // A store that throws (disk full, permissions) is restarted: the next write tries again with fresh file handles.
    protected override void PreRestart(Exception reason, object message)
    {
        _log.Error(reason, "Agent store failed on {0}", message.GetType().Name);
        PostStop();
    }

    private string DirectoryFor(string cwd)
    {
        PrivateFiles.EnsurePrivateDirectory(_root);
        var dir = Path.Combine(_root, AgentRecord.ProjectDir(cwd));
        PrivateFiles.EnsurePrivateDirectory(dir);
        return dir;
    }

    private FileStream TimelineStream(string agentId, string cwd)
    {
        if (_timelines.TryGetValue(agentId, out var open)) return open;
        var path = Path.Combine(DirectoryFor(cwd), agentId + ".timeline.jsonl");
        var options = new FileStreamOptions { Mode = FileMode.Append, Access = FileAccess.Write, Share = FileShare.Read };
        if (!OperatingSystem.IsWindows()) options.UnixCreateMode = PrivateFiles.FileMode600;
        var stream = new FileStream(path, options);
        _timelines[agentId] = stream;
        return stream;
    }

    /// <summary>
    /// A daemon killed mid-append can leave a last line without its newline: it was never a committed row. It is cut off,
    /// or the next row appended would be glued to it and lost at the next load.
    /// </summary>
    private void CutTornTail(string path)
    {
        using var stream = new FileStream(path, FileMode.Open, FileAccess.ReadWrite, FileShare.None);
        if (stream.Length == 0) return;
        stream.Seek(-1, SeekOrigin.End);
        if (stream.ReadByte() == '\n') return;
        var buffer = new byte[Math.Min(stream.Length, 1 << 20)];
        var keep = stream.Length;
        while (keep > 0)
        {
            var chunk = (int)Math.Min(buffer.Length, keep);
            stream.Seek(keep - chunk, SeekOrigin.Begin);
            stream.ReadExactly(buffer, 0, chunk);
            var newline = Array.LastIndexOf(buffer, (byte)'\n', chunk - 1, chunk);
            if (newline >= 0)
            {
                keep = keep - chunk + newline + 1;
                break;
            }
            keep -= chunk;
        }
        _log.Warning("Cut an incomplete last row from {0} ({1} bytes)", path, stream.Length - keep);
        stream.SetLength(keep);
    }

    private AgentStoreProtocol.Loaded LoadAll()
    {
        var agents = new List<AgentStoreProtocol.StoredAgent>();
        var problems = new List<string>();
        if (!Directory.Exists(_root)) return new AgentStoreProtocol.Loaded(agents, problems);
        foreach (var file in Directory.EnumerateFiles(_root, "*.json", SearchOption.AllDirectories))
        {
            try
            {
                LoadOne(file, agents, problems);
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                // One unreadable agent is reported and left alone; the others load.
                problems.Add($"{file}: {e.Message}");
            }
        }
        return new AgentStoreProtocol.Loaded(agents, problems);
    }

    private void LoadOne(string file, List<AgentStoreProtocol.StoredAgent> agents, List<string> problems)
    {
        {
            var (record, problem) = AgentRecord.Parse(File.ReadAllText(file));
            if (record is null)
            {
                // Left in place for the user to look at; the daemon goes on with the other agents.
                problems.Add($"{file}: {problem}");
                return;
            }
            List<TimelineRow> rows = [];
            long? firstSeq = null;
            var timeline = Path.Combine(Path.GetDirectoryName(file)!, record.Id + ".timeline.jsonl");
            if (File.Exists(timeline))
            {
                CutTornTail(timeline);
                (rows, firstSeq, var count) = ReadRows(timeline, _memoryRows);
                _rowsOnDisk[record.Id] = count;
            }
            agents.Add(new AgentStoreProtocol.StoredAgent(record, rows, firstSeq));
        }
    }
}

public static class AgentStoreProtocol
{
    public sealed record SaveRecord(AgentRecord Record);

    public sealed record AppendRows(string AgentId, string Cwd, IReadOnlyList<TimelineRow> Rows);

    public sealed record DeleteAgent(string AgentId, string Cwd, IActorRef? ReplyTo = null, object? Answer = null, object? Removed = null);

    public sealed record LoadAll
    {
        public static readonly LoadAll Instance = new();
        private LoadAll() { }
    }

    public sealed record Flush
    {
        public static readonly Flush Instance = new();
        private Flush() { }
    }

    /// <summary>A stored agent: its record, the newest rows of its timeline, and the seq of the oldest row on disk.</summary>
    public sealed record StoredAgent(AgentRecord Record, IReadOnlyList<TimelineRow> Rows, long? FirstSeq);

    /// <summary>Reads every row of an agent's timeline file (for a fetch that reaches past what the agent keeps in memory).</summary>
    public sealed record ReadTimeline(string AgentId, string Cwd);

    public sealed record TimelineRead(IReadOnlyList<TimelineRow> Rows);

    /// <summary>To the agent: its file was compacted; rows before <paramref name="FirstSeq"/> no longer exist.</summary>
    public sealed record TimelineCompacted(long FirstSeq);

    public sealed record Loaded(IReadOnlyList<StoredAgent> Agents, IReadOnlyList<string> Problems);
}
