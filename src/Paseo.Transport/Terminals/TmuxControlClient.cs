using System.Buffers;
using System.Diagnostics;
using System.Threading.Channels;

namespace Paseo.Transport.Terminals;

/// <summary>
/// One tmux control-mode client (`tmux -C attach-session`) on one terminal's session: the stream of its pane's output and
/// the answers to the commands written to it, as <see cref="ControlLine"/>s. Reading happens on a thread of its own into
/// a bounded queue; when the owner falls behind, reading stops and tmux holds the output (so the daemon never buffers
/// without end). Commands go through a bounded queue written by one writer thread: <see cref="TrySend"/> is false when it
/// is full. Disposing detaches the client (closing its stdin); the terminal goes on.
/// <para>
/// Why threads and not async reads: .NET reads a child's pipes synchronously, so an async read parks a thread-pool thread
/// for the whole life of the client — with many terminals that starved the pool (measured: other sockets' replies slowed
/// to tens of seconds). Two small dedicated threads per terminal leave the pool alone.
/// </para>
/// </summary>
public sealed class TmuxControlClient : IAsyncDisposable
{
    private const int MaxLineBytes = 8 << 20;
    private const int ThreadStackBytes = 256 * 1024;
    private readonly Process _process;
    private readonly Channel<ControlLine> _lines = Channel.CreateBounded<ControlLine>(new BoundedChannelOptions(1024) { SingleReader = true, SingleWriter = true, FullMode = BoundedChannelFullMode.Wait });
    private readonly Channel<string> _commands;
    private readonly CancellationTokenSource _disposed = new();

    private TmuxControlClient(Process process, int maxPendingCommands, string name)
    {
        _process = process;
        // Commands queued together go out in one write (flushed when the queue is empty).
        _process.StandardInput.AutoFlush = false;
        _commands = Channel.CreateBounded<string>(new BoundedChannelOptions(maxPendingCommands) { SingleReader = true, FullMode = BoundedChannelFullMode.Wait });
        new Thread(ReadLoop, ThreadStackBytes) { IsBackground = true, Name = $"tmux-read {name}" }.Start();
        new Thread(WriteLoop, ThreadStackBytes) { IsBackground = true, Name = $"tmux-write {name}" }.Start();
    }

    public static TmuxControlClient Attach(TmuxServer server, string sessionId)
    {
        var program = server.Program ?? throw new TmuxException($"{server.Settings.Program} is not installed");
        var start = new ProcessStartInfo(program)
        {
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            // tmux's own complaints (a lost server) are not protocol: they go where the daemon's stderr goes.
            RedirectStandardError = false,
            UseShellExecute = false,
        };
        foreach (var arg in server.BaseArguments) start.ArgumentList.Add(arg);
        foreach (var arg in (string[])["-C", "attach-session", "-t", "=" + sessionId]) start.ArgumentList.Add(arg);
        start.Environment.Remove("TMUX");
        start.Environment.Remove("TMUX_PANE");
        var process = Process.Start(start) ?? throw new TmuxException("tmux could not be started");
        return new TmuxControlClient(process, server.Settings.MaxPendingCommands, sessionId);
    }

    /// <summary>
    /// The next lines: at least one, and what else is already read, up to <paramref name="maxLines"/>; null once the
    /// client has ended (its session ended, tmux went away, or it was disposed).
    /// </summary>
    public async Task<IReadOnlyList<ControlLine>?> ReadBatchAsync(int maxLines = 256)
    {
        if (!await _lines.Reader.WaitToReadAsync().ConfigureAwait(false)) return null;
        var batch = new List<ControlLine>();
        while (batch.Count < maxLines && _lines.Reader.TryRead(out var line)) batch.Add(line);
        return batch;
    }

    /// <summary>Queues one command line; false when <see cref="TerminalSettings.MaxPendingCommands"/> already wait or the client ended.</summary>
    public bool TrySend(string commandLine) => _commands.Writer.TryWrite(commandLine);

    private void ReadLoop()
    {
        var parser = new TmuxControlParser();
        var stream = _process.StandardOutput.BaseStream;
        var buffer = new byte[64 * 1024];
        var line = new ArrayBufferWriter<byte>(4096);
        try
        {
            int read;
            while ((read = stream.Read(buffer)) > 0)
            {
                var span = buffer.AsSpan(0, read);
                int end;
                while ((end = span.IndexOf((byte)'\n')) >= 0)
                {
                    ControlLine parsed;
                    if (line.WrittenCount == 0) parsed = parser.Parse(span[..end]);
                    else
                    {
                        line.Write(span[..end]);
                        parsed = parser.Parse(line.WrittenSpan);
                        line.Clear();
                    }
                    // Waits while the owner is behind (back-pressure into tmux); ends when the client is disposed.
                    _lines.Writer.WriteAsync(parsed, _disposed.Token).AsTask().GetAwaiter().GetResult();
                    span = span[(end + 1)..];
                }
                line.Write(span);
                if (line.WrittenCount > MaxLineBytes) break; // not tmux speaking
            }
        }
        catch (Exception e) when (e is IOException or ObjectDisposedException or InvalidOperationException or OperationCanceledException)
        {
        }
        finally
        {
            _lines.Writer.TryComplete();
            _commands.Writer.TryComplete();
        }
    }

    private void WriteLoop()
    {
        var stdin = _process.StandardInput;
        try
        {
            while (_commands.Reader.WaitToReadAsync().AsTask().GetAwaiter().GetResult())
            {
                while (_commands.Reader.TryRead(out var command))
                {
                    stdin.Write(command);
                    stdin.Write('\n');
                }
                stdin.Flush();
            }
        }
        catch (Exception e) when (e is IOException or ObjectDisposedException)
        {
        }
        finally
        {
            // Closing stdin detaches the client; the session goes on.
            try { stdin.Close(); } catch (IOException) { }
        }
    }

    public async ValueTask DisposeAsync()
    {
        _commands.Writer.TryComplete();
        using var grace = new CancellationTokenSource(TimeSpan.FromSeconds(2));
        try
        {
            await _process.WaitForExitAsync(grace.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
            try { _process.Kill(); } catch (InvalidOperationException) { }
        }
        _disposed.Cancel();
        _process.Dispose();
    }
}
