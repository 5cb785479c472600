using Akka.Actor;
using Akka.Event;
using Paseo.Transport.Loops;

namespace Paseo.Actors.Loops;

/// <summary>
/// `$PASEO_HOME/loops/loops.json` (app-orchestration.md §3.5), on the blocking-io dispatcher. It keeps the last state of
/// every loop; a change is written with the ones that follow it within `paseo.loops.write-delay` (Paseo rewrites the
/// whole file for every log line), a loop's creation and end at once, answered <see cref="Written"/>. Every write is
/// atomic. A file that does not read is never written over.
/// </summary>
public sealed class LoopStoreWriter : ReceiveActor, IWithTimers
{
    private readonly ILoggingAdapter _log = Context.GetLogger();
    private readonly string _path;
    private readonly TimeSpan _delay;
    private readonly Dictionary<string, Loop> _loops = [];
    private string? _damaged = "not loaded yet";
    private bool _dirty;

    public ITimerScheduler Timers { get; set; } = null!;

    public LoopStoreWriter(string path, TimeSpan delay)
    {
        _path = path;
        _delay = delay;
        Receive<Load>(_ =>
        {
            try
            {
                var loops = LoopStoreFile.Load(_path);
                foreach (var loop in loops) _loops[loop.Id] = loop;
                _damaged = null;
                Sender.Tell(new Loaded(loops));
            }
            catch (Exception e) when (e is not OutOfMemoryException)
            {
                var reason = e is LoopStoreDamagedException ? e.Message : $"{_path} could not be read ({e.Message}); loops are off until it is repaired or moved aside";
                _damaged = reason;
                _log.Error(reason);
                Sender.Tell(new Damaged(reason));
            }
        });
        Receive<Save>(save =>
        {
            foreach (var loop in save.Loops) _loops[loop.Id] = loop;
            foreach (var id in save.Forget) _loops.Remove(id);
            if (save.Now)
            {
                var error = Write();
                Sender.Tell(new Written(save.Loops.Select(l => l.Id).ToList(), error));
            }
            else if (!_dirty)
            {
                _dirty = true;
                Timers.StartSingleTimer("write", WriteDue.Instance, _delay);
            }
        });
        Receive<WriteDue>(_ => Write());
        Receive<Flush>(_ =>
        {
            if (_dirty) Write();
            Sender.Tell(Akka.Done.Instance);
        });
    }

    public static Props Props(string path, TimeSpan delay) =>
        Akka.Actor.Props.Create(() => new LoopStoreWriter(path, delay)).WithDispatcher(Hosting.PaseoDispatchers.BlockingIo);

    /// <summary>Writes every loop; null, or why it could not (the next change tries again).</summary>
    private string? Write()
    {
        if (_damaged is not null) return _damaged;
        Timers.Cancel("write");
        try
        {
            LoopStoreFile.Save(_path, _loops.Values);
            _dirty = false;
            return null;
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            _log.Error(e, "Could not write {0}", _path);
            _dirty = true;
            return $"Could not save the loops: {e.Message}";
        }
    }

    public sealed record Load
    {
        public static readonly Load Instance = new();
        private Load() { }
    }

    public sealed record Loaded(IReadOnlyList<Loop> Loops);

    public sealed record Damaged(string Reason);

    /// <param name="Now">Written before the answer (a loop's creation or end); otherwise within the write delay, unanswered.</param>
    /// <param name="Forget">Loops to drop from the file (the oldest finished ones beyond paseo.loops.loops-kept).</param>
    public sealed record Save(IReadOnlyList<Loop> Loops, bool Now, IReadOnlyList<string> Forget);

    public sealed record Written(IReadOnlyList<string> LoopIds, string? Error);

    public sealed record Flush
    {
        public static readonly Flush Instance = new();
        private Flush() { }
    }

    private sealed record WriteDue
    {
        public static readonly WriteDue Instance = new();
    }
}
