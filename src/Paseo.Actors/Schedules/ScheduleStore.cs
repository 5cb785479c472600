using Akka.Actor;
using Akka.Event;
using Paseo.Transport.Schedules;
using static Paseo.Actors.Schedules.ScheduleProtocol;

namespace Paseo.Actors.Schedules;

/// <summary>
/// `$PASEO_HOME/schedules` (one file per schedule, written atomically), on the blocking-io dispatcher. A write that
/// carries an answer sends it once the file is on disk, or a `schedule_request_failed` with the reason when it is not
/// (the schedule keeps its state in memory, and its next change writes it again).
/// </summary>
public sealed class ScheduleStore : ReceiveActor
{
    private readonly ILoggingAdapter _log = Context.GetLogger();

    public ScheduleStore(string directory)
    {
        Receive<Load>(_ =>
        {
            var (schedules, damaged) = ScheduleStoreFiles.LoadAll(directory);
            foreach (var (path, reason) in damaged)
                _log.Error("{0} is damaged ({1}); that schedule does not run until the file is repaired or moved aside (it is not overwritten)", path, reason);
            Sender.Tell(new Loaded(schedules, damaged));
        });
        Receive<Save>(save => Write(save.Answer, save.ReplyTo, save.Request, () => ScheduleStoreFiles.Save(directory, save.Schedule)));
        // Everything sent before this message is written once it is answered (the mailbox is FIFO).
        Receive<Flush>(_ => Sender.Tell(Akka.Done.Instance));
        Receive<Delete>(delete => Write(delete.Answer, delete.ReplyTo, delete.Request, () => ScheduleStoreFiles.Delete(directory, delete.ScheduleId)));
    }

    public static Props Props(string directory) => Akka.Actor.Props.Create(() => new ScheduleStore(directory)).WithDispatcher(Hosting.PaseoDispatchers.BlockingIo);

    private void Write(ScheduleAnswer? answer, IActorRef? replyTo, IScheduleRequest? request, Action write)
    {
        try
        {
            write();
            if (answer is not null) replyTo?.Tell(answer);
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            _log.Error(e, "Could not write a schedule");
            if (request is not null) replyTo?.Tell(Error(request, $"Could not save the schedule: {e.Message}"));
        }
    }

    public sealed record Load
    {
        public static readonly Load Instance = new();
        private Load() { }
    }

    public sealed record Flush
    {
        public static readonly Flush Instance = new();
        private Flush() { }
    }

    public sealed record Loaded(IReadOnlyList<Schedule> Schedules, IReadOnlyList<(string Path, string Reason)> Damaged);

    public sealed record Save(Schedule Schedule, ScheduleAnswer? Answer = null, IActorRef? ReplyTo = null, IScheduleRequest? Request = null);

    public sealed record Delete(string ScheduleId, ScheduleAnswer Answer, IActorRef ReplyTo, IScheduleRequest Request);
}
