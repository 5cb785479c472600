using Akka.Actor;
using Akka.Event;
using Paseo.Transport.Loops;

namespace Paseo.Actors.Loops;

/// <summary>
/// The loops' files (`$PASEO_HOME/loops/&lt;id&gt;.json`, <see cref="LoopStoreFile"/>), on the blocking-io dispatcher. A
/// change is written with the ones that follow it within `paseo.loops.write-delay` (Paseo rewrites one file holding
/// every loop for each log line); a loop's creation and end are written at once and answered <see cref="Written"/>.
/// Only changed loops are written, each atomically. A write that fails is tried again at the next delay. Nothing is
/// written while the files could not be read.
/// </summary>
public sealed class LoopStoreWriter : ReceiveActor, IWithTimers
{
    private readonly ILoggingAdapter _log = Context.GetLogger();
    private readonly string _directory;
    private readonly TimeSpan _delay;
    private readonly Dictionary<string, Loop> _dirty = [];
    private bool _damaged = true;

    public ITimerScheduler Timers { get; set; } = null!;

    public LoopStoreWriter(string directory, TimeSpan delay)
    {
        _directory = directory;
        _delay = delay;
        Receive<Load>(_ =>
        {
            try
            {
                var loops = LoopStoreFile.Load(_directory);
                _damaged = false;
                Sender.Tell(new Loaded(loops));
            }
            catch (Exception e) when (e is not OutOfMemoryException)
            {
                var reason = e is LoopStoreDamagedException ? e.Message : $"{_directory} could not be read ({e.Message}); loops are off until it is repaired or moved aside";
                _log.Error(reason);
                Sender.Tell(new Damaged(reason));
            }
        });
        Receive<Save>(save =>
        {
            foreach (var id in save.Forget)
            {
                _dirty.Remove(id);
                if (!_damaged) Try(() => LoopStoreFile.Delete(_directory, id), id);
            }
            foreach (var loop in save.Loops) _dirty[loop.Id] = loop;
            if (save.Seq is { } seq)
            {
                var errors = save.Loops.Select(l => WriteOne(l.Id)).OfType<string>().ToList();
                Sender.Tell(new Written(seq, errors.Count == 0 ? null : string.Join("; ", errors)));
            }
            ScheduleWrite(); // what waits, or what just failed, is written within the delay
        });
        Receive<WriteDue>(_ => WriteAll());
        Receive<Flush>(_ =>
        {
            WriteAll();
            Sender.Tell(Akka.Done.Instance);
        });
    }

    public static Props Props(string directory, TimeSpan delay) =>
        Akka.Actor.Props.Create(() => new LoopStoreWriter(directory, delay)).WithDispatcher(Hosting.PaseoDispatchers.BlockingIo);

    private void ScheduleWrite()
    {
        if (_dirty.Count > 0 && !Timers.IsTimerActive("write")) Timers.StartSingleTimer("write", WriteDue.Instance, _delay);
    }

    private void WriteAll()
    {
        foreach (var id in _dirty.Keys.ToList()) WriteOne(id);
        ScheduleWrite(); // what failed is tried again
    }

    /// <summary>Writes one changed loop; null, or why it could not (it stays changed).</summary>
    private string? WriteOne(string id)
    {
        if (_damaged) return "the loops' files could not be read, so they are not written";
        if (!_dirty.TryGetValue(id, out var loop)) return null;
        var error = Try(() => LoopStoreFile.Save(_directory, loop), id);
        if (error is null) _dirty.Remove(id);
        return error;
    }

    private string? Try(Action write, string id)
    {
        try
        {
            write();
            return null;
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            _log.Error(e, "Could not write loop {0} in {1}", id, _directory);
            return $"Could not save loop {id}: {e.Message}";
        }
    }

    public sealed record Load
    {
        public static readonly Load Instance = new();
        private Load() { }
    }

    public sealed record Loaded(IReadOnlyList<Loop> Loops);

    public sealed record Damaged(string Reason);

    /// <param name="Seq">Set for a write before the answer (a loop's creation or end), echoed in <see cref="Written"/>; null: within the write delay, unanswered.</param>
    /// <param name="Forget">Loops whose files go (the oldest finished ones beyond paseo.loops.loops-kept).</param>
    public sealed record Save(IReadOnlyList<Loop> Loops, long? Seq, IReadOnlyList<string> Forget);

    public sealed record Written(long Seq, string? Error);

    public sealed record Flush
    {
        public static readonly Flush Instance = new();
        private Flush() { }
    }

    private sealed record WriteDue : INoSerializationVerificationNeeded
    {
        public static readonly WriteDue Instance = new();
    }
}
