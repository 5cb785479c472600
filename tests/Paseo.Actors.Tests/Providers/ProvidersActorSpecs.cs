using System.Collections.Concurrent;
using Akka.Actor;
using Paseo.Actors.Providers;
using Paseo.Actors.Providers.Mock;
using Paseo.Actors.Tests.Support;
using Xunit.Abstractions;

namespace Paseo.Actors.Tests.Providers;

/// <summary>
/// `providers` keeping each provider's availability: checked at start off its thread, re-checked when asked for once
/// stale, a request answered when its checks are done or after its wait with what is known, and a check still running
/// cancelled when the actor stops.
/// </summary>
public sealed class ProvidersActorSpecs(ITestOutputHelper output) : Akka.TestKit.Xunit2.TestKit(SpecConfig.Hocon, output)
{
    /// <summary>A provider whose check the test answers: each run of the probe waits for the next answer the test gives.</summary>
    private sealed class ProbedProvider(string id, TimeSpan recheckAfter) : IAgentProvider
    {
        public BlockingCollection<(TaskCompletionSource<ProviderAvailability> Answer, CancellationToken Token)> Runs { get; } = [];

        public ProviderDescription Description { get; } = new MockProvider().Description with { Id = id };

        public AvailabilityCheck Availability => new(token =>
        {
            var answer = new TaskCompletionSource<ProviderAvailability>(TaskCreationOptions.RunContinuationsAsynchronously);
            Runs.Add((answer, token));
            return answer.Task;
        }, recheckAfter);

        public Props SessionProps(ProviderSessionConfig config) => throw new NotSupportedException();

        public (TaskCompletionSource<ProviderAvailability> Answer, CancellationToken Token) NextRun() =>
            Runs.TryTake(out var run, TimeSpan.FromSeconds(5)) ? run : throw new TimeoutException($"{Description.Id} was not checked");
    }

    private sealed class FixedProvider : IAgentProvider
    {
        public ProviderDescription Description { get; } = new MockProvider().Description with { Id = "fixed" };

        public AvailabilityCheck Availability => AvailabilityCheck.Fixed(ProviderAvailability.Disabled);

        public Props SessionProps(ProviderSessionConfig config) => throw new NotSupportedException();
    }

    private static readonly ProviderAvailability Ready = new("ready", null, "1.2.3");

    private ProvidersProtocol.AvailabilitySnapshot Ask(IActorRef providers, object question)
    {
        providers.Tell(question, TestActor);
        return ExpectMsg<ProvidersProtocol.AvailabilitySnapshot>(TimeSpan.FromSeconds(5));
    }

    [Fact]
    public void Each_provider_is_checked_at_start_and_a_request_gets_the_results_once_its_checks_are_done()
    {
        var probed = new ProbedProvider("probed", TimeSpan.FromHours(1));
        var providers = Sys.ActorOf(ProvidersActor.Props(new Dictionary<string, IAgentProvider> { ["probed"] = probed, ["fixed"] = new FixedProvider() }));
        var first = probed.NextRun();

        // While the first check runs, the provider is "loading" (absent); a fixed answer is known at once.
        var now = Ask(providers, ProvidersProtocol.GetAvailability.Instance);
        Assert.Null(now.Of("probed"));
        Assert.Equal(ProviderAvailability.Disabled, now.Of("fixed"));

        providers.Tell(new ProvidersProtocol.RefreshAvailability(null, TimeSpan.FromSeconds(30)), TestActor);
        ExpectNoMsg(TimeSpan.FromMilliseconds(100)); // waits for the running check (no second one is started)
        first.Answer.SetResult(Ready);
        Assert.Equal(Ready, ExpectMsg<ProvidersProtocol.AvailabilitySnapshot>().Of("probed"));
        Assert.Empty(probed.Runs);

        // Fresh: asked again, the known result comes at once, with no new check.
        Assert.Equal(Ready, Ask(providers, new ProvidersProtocol.RefreshAvailability(["probed"], TimeSpan.FromSeconds(30))).Of("probed"));
        Assert.Empty(probed.Runs);
    }

    [Fact]
    public void A_stale_result_is_checked_again_and_shown_until_the_new_check_answers_and_a_slow_check_is_not_waited_for_beyond_the_wait()
    {
        var probed = new ProbedProvider("probed", TimeSpan.Zero);
        var providers = Sys.ActorOf(ProvidersActor.Props(new Dictionary<string, IAgentProvider> { ["probed"] = probed }));
        probed.NextRun().Answer.SetResult(Ready);
        AwaitAssert(() => Assert.Equal(Ready, Ask(providers, ProvidersProtocol.GetAvailability.Instance).Of("probed")));

        // Stale at once (recheck-after 0): a refresh starts a new check; the wait ends first, with the last result.
        providers.Tell(new ProvidersProtocol.RefreshAvailability(null, TimeSpan.FromMilliseconds(200)), TestActor);
        var second = probed.NextRun();
        Assert.Equal(Ready, ExpectMsg<ProvidersProtocol.AvailabilitySnapshot>(TimeSpan.FromSeconds(5)).Of("probed"));

        var gone = new ProviderAvailability("unavailable", "probed not found on PATH", null);
        second.Answer.SetResult(gone);
        AwaitAssert(() => Assert.Equal(gone, Ask(providers, ProvidersProtocol.GetAvailability.Instance).Of("probed")));
    }

    [Fact]
    public void A_check_still_running_is_cancelled_when_the_actor_stops()
    {
        var probed = new ProbedProvider("probed", TimeSpan.FromHours(1));
        var providers = Sys.ActorOf(ProvidersActor.Props(new Dictionary<string, IAgentProvider> { ["probed"] = probed }));
        var run = probed.NextRun();
        Assert.False(run.Token.IsCancellationRequested);
        Watch(providers);
        Sys.Stop(providers);
        ExpectTerminated(providers);
        Assert.True(run.Token.IsCancellationRequested);
    }
}
