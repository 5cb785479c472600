using Akka.Actor;
using Paseo.Actors.Providers.OpenCode;

namespace Paseo.Actors.Providers;

/// <summary>What a session asks the `providers` actor about the providers' CLIs.</summary>
public static class ProvidersProtocol
{
    /// <summary>Where the `providers` actor is.</summary>
    public const string Path = "/user/paseo/providers";

    /// <summary>
    /// Check again the providers (all, or <paramref name="Ids"/>) whose last check is older than their recheck-after;
    /// answered with an <see cref="AvailabilitySnapshot"/> once those checks are done, or after <paramref name="MaxWait"/>
    /// with what is known then.
    /// </summary>
    public sealed record RefreshAvailability(IReadOnlyCollection<string>? Ids, TimeSpan MaxWait);

    /// <summary>The availability known now; answered at once.</summary>
    public sealed record GetAvailability
    {
        public static readonly GetAvailability Instance = new();
        private GetAvailability() { }
    }

    /// <summary>Each provider's last finished check; a provider missing here is still being checked for the first time.</summary>
    public sealed record AvailabilitySnapshot(IReadOnlyDictionary<string, ProviderAvailability> ById)
    {
        public ProviderAvailability? Of(string providerId) => ById.GetValueOrDefault(providerId);
    }
}

/// <summary>
/// `providers`: the state providers share between their agents, as actors — each provider's availability (`&lt;cli&gt;
/// --version`, checked at start and again when asked for after `recheck-after`, so a CLI installed, upgraded or removed
/// while the daemon runs is seen without a restart) and one <see cref="OpenCodeServerActor"/> per OpenCode provider
/// (`providers/&lt;provider id&gt;`: its `opencode serve`, event feeds and HTTP client). A provider's sessions and its
/// model listing reach its server by that path. Checks run off this actor's thread and are cancelled when it stops.
/// </summary>
public sealed class ProvidersActor : ReceiveActor, IWithTimers
{
    /// <summary>One provider's availability: the last finished check (shown while a new one runs), and when it started.</summary>
    private sealed class Check(AvailabilityCheck source)
    {
        public AvailabilityCheck Source { get; } = source;
        public ProviderAvailability? Last { get; set; } = source.FixedAnswer;
        public DateTimeOffset StartedAt { get; set; }
        public bool Running { get; set; }
    }

    private sealed record Waiter(long Id, IActorRef ReplyTo, HashSet<string> Pending);

    private readonly Dictionary<string, Check> _checks;
    private readonly List<Waiter> _waiters = [];
    private readonly CancellationTokenSource _stopping = new();
    private readonly TimeProvider _time;
    private long _nextWaiter;

    public ITimerScheduler Timers { get; set; } = null!;

    public ProvidersActor(IReadOnlyDictionary<string, IAgentProvider> providers, TimeProvider time)
    {
        _time = time;
        _checks = providers.ToDictionary(p => p.Key, p => new Check(p.Value.Availability), StringComparer.Ordinal);
        foreach (var provider in providers.Values.OfType<OpenCodeProvider>())
            Context.ActorOf(OpenCodeServerActor.Props(provider.Description.Id, provider.Command, provider.Environment, provider.Settings), OpenCodeProvider.ServerName(provider.Description.Id));

        Receive<ProvidersProtocol.RefreshAvailability>(refresh =>
        {
            var ids = (refresh.Ids ?? _checks.Keys).Where(_checks.ContainsKey).ToList();
            foreach (var id in ids) StartIfStale(id);
            var pending = ids.Where(id => _checks[id].Running).ToHashSet(StringComparer.Ordinal);
            if (pending.Count == 0)
            {
                Sender.Tell(Snapshot());
                return;
            }
            var waiter = new Waiter(++_nextWaiter, Sender, pending);
            _waiters.Add(waiter);
            Timers.StartSingleTimer(("wait", waiter.Id), new WaitOver(waiter.Id), refresh.MaxWait);
        });
        Receive<ProvidersProtocol.GetAvailability>(_ => Sender.Tell(Snapshot()));
        Receive<Checked>(done =>
        {
            var check = _checks[done.ProviderId];
            check.Last = done.Result;
            check.Running = false;
            foreach (var waiter in _waiters.Where(w => w.Pending.Remove(done.ProviderId) && w.Pending.Count == 0).ToList()) Answer(waiter);
        });
        Receive<WaitOver>(over =>
        {
            if (_waiters.Find(w => w.Id == over.WaiterId) is { } waiter) Answer(waiter);
        });
    }

    public static Props Props(IReadOnlyDictionary<string, IAgentProvider> providers, TimeProvider? time = null) =>
        Akka.Actor.Props.Create(() => new ProvidersActor(providers, time ?? TimeProvider.System));

    // Every provider is checked once at start, off this thread.
    protected override void PreStart()
    {
        foreach (var id in _checks.Keys) StartIfStale(id);
    }

    protected override void PostStop()
    {
        _stopping.Cancel();
        _stopping.Dispose();
    }

    // A server actor that throws is resumed: a restart would forget its process (left running, unreachable), the
    // sessions that hold its feeds and the routes of their events.
    protected override SupervisorStrategy SupervisorStrategy() =>
        new OneForOneStrategy(Decider.From(Directive.Resume, Directive.Stop.When<ActorInitializationException>()));

    private void StartIfStale(string id)
    {
        var check = _checks[id];
        if (check.Source.Probe is not { } probe || check.Running) return;
        var now = _time.GetUtcNow();
        if (check.Last is not null && now - check.StartedAt < check.Source.RecheckAfter) return;
        check.Running = true;
        check.StartedAt = now;
        // The probe starts a process before its first await: it runs on the pool, never on this thread.
        var stopping = _stopping.Token;
        Task.Run(() => probe(stopping), stopping).PipeTo(Self,
            success: result => new Checked(id, result),
            failure: e => new Checked(id, new ProviderAvailability("error", $"the check failed: {e.GetBaseException().Message}", null)));
    }

    private void Answer(Waiter waiter)
    {
        _waiters.Remove(waiter);
        Timers.Cancel(("wait", waiter.Id));
        waiter.ReplyTo.Tell(Snapshot());
    }

    private ProvidersProtocol.AvailabilitySnapshot Snapshot() => new(_checks.Where(c => c.Value.Last is not null)
        .ToDictionary(c => c.Key, c => c.Value.Last!, StringComparer.Ordinal));

    private sealed record Checked(string ProviderId, ProviderAvailability Result) : INoSerializationVerificationNeeded;

    private sealed record WaitOver(long WaiterId) : INoSerializationVerificationNeeded;
}
