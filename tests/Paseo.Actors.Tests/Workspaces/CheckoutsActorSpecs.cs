using Akka.Actor;
using Paseo.Actors.Tests.Support;
using Paseo.Actors.Workspaces;
using Xunit.Abstractions;
using static Paseo.Actors.Workspaces.WorkspaceProtocol;

namespace Paseo.Actors.Tests.Workspaces;

/// <summary>The checkout observers: one per directory, shared, and gone when nobody observes it — without losing a request on the way.</summary>
public sealed class CheckoutsActorSpecs(ITestOutputHelper output) : Akka.TestKit.Xunit2.TestKit(SpecConfig.Hocon, output), IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("paseo-checkouts-").FullName;

    private async Task<IActorRef?> ObserverAsync()
    {
        try { return await Sys.ActorSelection("/user/checkouts/*").ResolveOne(TimeSpan.FromMilliseconds(500)); }
        catch (ActorNotFoundException) { return null; }
    }

    [Fact]
    public async Task A_question_is_answered_and_the_observer_nobody_observes_goes()
    {
        var checkouts = Sys.ActorOf(CheckoutsActor.Props(null, CheckoutWatchSettings.Default), "checkouts");
        checkouts.Tell(new GetCheckout(_dir));
        var answer = ExpectMsg<CheckoutChanged>(TimeSpan.FromSeconds(15));
        Assert.Equal(_dir, answer.Cwd);
        Assert.False(answer.Snapshot.IsGit);
        Assert.Null(answer.Snapshot.Error);
        await AwaitAssertAsync(async () => Assert.Null(await ObserverAsync()), TimeSpan.FromSeconds(10));
    }

    [Fact]
    public async Task Observers_share_one_watcher_which_stops_when_the_last_one_stops()
    {
        var checkouts = Sys.ActorOf(CheckoutsActor.Props(null, CheckoutWatchSettings.Default), "checkouts");
        var first = CreateTestProbe();
        var second = CreateTestProbe();
        checkouts.Tell(new Observe(_dir, first.Ref));
        checkouts.Tell(new Observe(_dir, second.Ref));
        first.ExpectMsg<CheckoutChanged>(TimeSpan.FromSeconds(15));
        second.ExpectMsg<CheckoutChanged>(TimeSpan.FromSeconds(15));
        var observer = (await ObserverAsync())!;
        Watch(observer);
        Sys.Stop(first.Ref);
        checkouts.Tell(new Unobserve(_dir, second.Ref));
        ExpectTerminated(observer, TimeSpan.FromSeconds(10));
        // A new question after that gets a new observer and its answer.
        checkouts.Tell(new GetCheckout(_dir));
        ExpectMsg<CheckoutChanged>(TimeSpan.FromSeconds(15));
    }

    public new void Dispose()
    {
        base.Dispose();
        Directory.Delete(_dir, recursive: true);
    }
}
