using Akka.Actor;
using Akka.Event;
using static Paseo.Actors.Providers.ProviderProtocol;

namespace Paseo.Actors.Providers;

/// <summary>
/// The phases of a provider session. Opening: its CLI or server session is starting (a handshake, a session to
/// create). OpeningWithTurn: a prompt came meanwhile; its turn has started for the agent and the prompt waits.
/// Ready: open, no turn. InTurn: a turn runs. Interrupting: the CLI was asked to stop the turn and has not yet.
/// Failed: it could not start, or died; the next prompt's turn fails with why, and the actor stops.
/// </summary>
public enum ProviderSessionPhase { Opening, OpeningWithTurn, Ready, InTurn, Interrupting, Failed }

/// <summary>
/// What every provider session (Claude, Codex, ACP, OpenCode, the mock) shares: its lifecycle as
/// <see cref="ProviderSessionPhase"/>s, one <c>Become</c> behaviour per phase for the agent's commands whose handling
/// depends on it (a prompt, an interrupt, an interrupt that is overdue), and one <see cref="TransitionTo"/> that refuses
/// a change the table does not list. Subclasses speak their CLI's protocol: they say when the session is open
/// (<see cref="Opened"/>, <see cref="OpenFailed"/>), send a prompt (<see cref="SendPrompt"/>), ask for a stop
/// (<see cref="AbortTurn"/>), end a turn (<see cref="TurnEnded"/>) or die (<see cref="Die"/>); their own messages are
/// registered in <see cref="Common"/>, which every phase includes.
/// </summary>
public abstract class ProviderSessionActor : ReceiveActor, IWithTimers
{
    private static readonly IReadOnlyDictionary<ProviderSessionPhase, ProviderSessionPhase[]> Transitions = new Dictionary<ProviderSessionPhase, ProviderSessionPhase[]>
    {
        [ProviderSessionPhase.Opening] = [ProviderSessionPhase.Ready, ProviderSessionPhase.OpeningWithTurn, ProviderSessionPhase.Failed],
        [ProviderSessionPhase.OpeningWithTurn] = [ProviderSessionPhase.InTurn, ProviderSessionPhase.Opening, ProviderSessionPhase.Failed],
        [ProviderSessionPhase.Ready] = [ProviderSessionPhase.InTurn, ProviderSessionPhase.Failed],
        [ProviderSessionPhase.InTurn] = [ProviderSessionPhase.Ready, ProviderSessionPhase.Interrupting, ProviderSessionPhase.Failed],
        [ProviderSessionPhase.Interrupting] = [ProviderSessionPhase.Ready, ProviderSessionPhase.Failed],
        [ProviderSessionPhase.Failed] = [],
    };

    private RunTurn? _queuedPrompt;
    private string? _failure;

    public ITimerScheduler Timers { get; set; } = null!;

    protected ProviderSessionActor()
    {
        // Handlers are registered now (Common only registers; the subclass's fields are read when messages come).
        Become(Behaviour(ProviderSessionPhase.Opening));
    }

    protected ProviderSessionPhase Phase { get; private set; } = ProviderSessionPhase.Opening;

    /// <summary>A turn runs for the agent (its TurnStarted was sent and its end was not).</summary>
    protected bool InTurn => Phase is ProviderSessionPhase.InTurn or ProviderSessionPhase.Interrupting or ProviderSessionPhase.OpeningWithTurn;

    /// <summary>The CLI's name in what the agent is told.</summary>
    protected abstract string Name { get; }

    /// <summary>How long a CLI may take to stop a turn once asked (paseo.providers.interrupt-grace).</summary>
    protected abstract TimeSpan InterruptGrace { get; }

    /// <summary>
    /// A CLI that does not stop a turn in time is stopped with its process (true), or — for a shared server that cannot
    /// be stopped for one session — the turn is only ended (false).
    /// </summary>
    protected virtual bool StopWhenInterruptOverdue => true;

    /// <summary>The subclass's own messages, handled alike in every phase.</summary>
    protected abstract void Common();

    /// <summary>Sends a prompt to the open session; the turn has started for the agent already.</summary>
    protected abstract void SendPrompt(RunTurn run);

    /// <summary>Asks the CLI to stop the running turn (it ends later, with <see cref="TurnEnded"/>; or at once, if the subclass ends it here).</summary>
    protected abstract void AbortTurn();

    /// <summary>A new prompt replaces the running turn: by default the turn is aborted (then ended here as canceled).</summary>
    protected virtual void ReplaceTurn() => AbortTurn();

    /// <summary>What a turn leaves behind is dropped as it ends (its tool calls, open questions...).</summary>
    protected virtual void ForgetTurn()
    {
    }

    protected void Emit(ProviderEvent e) => Context.Parent.Tell(e);

    /// <summary>The one place the phase changes; staying in the same phase is no change.</summary>
    protected void TransitionTo(ProviderSessionPhase next)
    {
        if (next == Phase) return;
        if (!Transitions[Phase].Contains(next)) throw new InvalidOperationException($"{Name} session: no transition from {Phase} to {next}");
        Phase = next;
        Become(Behaviour(next));
    }

    /// <summary>The session is open: a prompt that waited is sent now.</summary>
    protected void Opened()
    {
        if (Phase == ProviderSessionPhase.Opening) TransitionTo(ProviderSessionPhase.Ready);
        else if (Phase == ProviderSessionPhase.OpeningWithTurn)
        {
            var queued = _queuedPrompt!;
            _queuedPrompt = null;
            TransitionTo(ProviderSessionPhase.InTurn);
            SendPrompt(queued);
        }
    }

    /// <summary>The session could not open: a waiting turn fails with <paramref name="reason"/>, and so does the next prompt's (then the actor stops).</summary>
    protected void OpenFailed(string reason)
    {
        if (Phase == ProviderSessionPhase.Failed) return;
        var inTurn = InTurn;
        _queuedPrompt = null;
        _failure = reason;
        TransitionTo(ProviderSessionPhase.Failed);
        if (inTurn) Emit(new TurnFailed(reason));
    }

    /// <summary>The running turn ended as <paramref name="how"/> says; nothing when no turn runs (e.g. a failed write already ended it).</summary>
    protected void TurnEnded(ProviderEvent how)
    {
        if (Phase is not (ProviderSessionPhase.InTurn or ProviderSessionPhase.Interrupting)) return;
        Timers.Cancel("interrupt");
        ForgetTurn();
        TransitionTo(ProviderSessionPhase.Ready);
        Emit(how);
    }

    /// <summary>A turn the CLI starts by itself (Claude goes on when a background sub-agent is done): the agent runs again.</summary>
    protected void TurnStartedByProvider()
    {
        if (Phase != ProviderSessionPhase.Ready) return;
        TransitionTo(ProviderSessionPhase.InTurn);
        Emit(TurnStarted.Instance);
    }

    /// <summary>The process or session is gone or unusable: the turn (if any) fails with why, and the actor stops. Idempotent.</summary>
    protected void Die(string reason)
    {
        if (Phase == ProviderSessionPhase.Failed) return;
        Context.GetLogger().Warning("{0} session: {1}", Name, reason);
        var inTurn = InTurn;
        _queuedPrompt = null;
        _failure = reason;
        TransitionTo(ProviderSessionPhase.Failed);
        if (inTurn) Emit(new TurnFailed(reason));
        Context.Stop(Self);
    }

    private Action Behaviour(ProviderSessionPhase phase) => phase switch
    {
        ProviderSessionPhase.Opening => Opening,
        ProviderSessionPhase.OpeningWithTurn => OpeningWithTurn,
        ProviderSessionPhase.Ready => Ready,
        ProviderSessionPhase.InTurn => Running,
        ProviderSessionPhase.Interrupting => Interrupting,
        _ => Failed,
    };

    private void Opening()
    {
        Receive<RunTurn>(run =>
        {
            // The turn starts for the agent now; the prompt goes once the session is open.
            _queuedPrompt = run;
            TransitionTo(ProviderSessionPhase.OpeningWithTurn);
            Emit(TurnStarted.Instance);
        });
        Receive<Interrupt>(_ => { });
        Receive<InterruptOverdue>(_ => { });
        Common();
    }

    private void OpeningWithTurn()
    {
        Receive<RunTurn>(run =>
        {
            _queuedPrompt = run;
            Emit(new TurnCanceled("Replaced by a new prompt"));
            Emit(TurnStarted.Instance);
        });
        Receive<Interrupt>(_ =>
        {
            // Never sent: nothing to ask the CLI to stop.
            _queuedPrompt = null;
            TransitionTo(ProviderSessionPhase.Opening);
            Emit(new TurnCanceled("Interrupted"));
        });
        Receive<InterruptOverdue>(_ => { });
        Common();
    }

    private void Ready()
    {
        Receive<RunTurn>(Start);
        Receive<Interrupt>(_ => { });
        Receive<InterruptOverdue>(_ => { });
        Common();
    }

    private void Running()
    {
        Receive<RunTurn>(Replace);
        Receive<Interrupt>(_ =>
        {
            AbortTurn();
            // A subclass may have ended the turn at once (or died); otherwise it has the grace to.
            if (Phase != ProviderSessionPhase.InTurn) return;
            TransitionTo(ProviderSessionPhase.Interrupting);
            Timers.StartSingleTimer("interrupt", InterruptOverdue.Instance, InterruptGrace);
        });
        Receive<InterruptOverdue>(_ => { });
        Common();
    }

    private void Interrupting()
    {
        Receive<RunTurn>(Replace);
        Receive<Interrupt>(_ => { });
        Receive<InterruptOverdue>(_ =>
        {
            if (StopWhenInterruptOverdue)
            {
                var reason = $"Interrupted: {Name} did not stop within {InterruptGrace.TotalSeconds:0} s, so its process was stopped";
                _failure = reason;
                TransitionTo(ProviderSessionPhase.Failed);
                Emit(new TurnCanceled(reason));
                Context.Stop(Self);
            }
            else TurnEnded(new TurnCanceled($"Interrupted: {Name} did not confirm within {InterruptGrace.TotalSeconds:0} s"));
        });
        Common();
    }

    private void Failed()
    {
        Receive<RunTurn>(_ =>
        {
            Emit(TurnStarted.Instance);
            Emit(new TurnFailed(_failure ?? $"{Name} is not running"));
            Context.Stop(Self);
        });
        Receive<Interrupt>(_ => { });
        Receive<InterruptOverdue>(_ => { });
        Common();
    }

    private void Start(RunTurn run)
    {
        TransitionTo(ProviderSessionPhase.InTurn);
        Emit(TurnStarted.Instance);
        SendPrompt(run);
    }

    /// <summary>Paseo's replaceRunning: the running turn is stopped and ends canceled; the new one starts.</summary>
    private void Replace(RunTurn run)
    {
        ReplaceTurn();
        TurnEnded(new TurnCanceled("Replaced by a new prompt"));
        if (Phase == ProviderSessionPhase.Failed)
        {
            // Asking for the stop killed the session (a CLI that stopped reading): the new turn fails with why.
            Emit(TurnStarted.Instance);
            Emit(new TurnFailed(_failure!));
            return;
        }
        Start(run);
    }

    private sealed record InterruptOverdue : INoSerializationVerificationNeeded
    {
        public static readonly InterruptOverdue Instance = new();
    }
}
