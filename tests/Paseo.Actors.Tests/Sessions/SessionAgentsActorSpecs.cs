using System.Text.Json.Nodes;
using Akka.Actor;
using Paseo.Actors.Agents;
using Paseo.Actors.Sessions.Agents;
using Paseo.Actors.Tests.Support;
using Paseo.Transport.Protocol;
using Paseo.Transport.Protocol.Requests;
using Xunit.Abstractions;
using static Paseo.Actors.Agents.AgentProtocol;
using static Paseo.Actors.Sessions.SessionRequestProtocol;

namespace Paseo.Actors.Tests.Sessions;

/// <summary>
/// A session's agent requests child, with the test as its session and a probe as the agents: each request answered
/// once, and the agent_update subscription — pushes held while the subscribing fetch is answered, then the newest per
/// agent, and an agent that leaves the filter pushed as a remove.
/// </summary>
public sealed class SessionAgentsActorSpecs(ITestOutputHelper output) : Akka.TestKit.Xunit2.TestKit(SpecConfig.Hocon, output)
{
    private static AgentSnapshot Agent(string id, string team, DateTimeOffset updated) => new()
    {
        Id = id,
        Provider = "mock",
        Cwd = "/tmp",
        CreatedAt = updated,
        UpdatedAt = updated,
        Status = AgentStatus.Idle,
        Capabilities = AgentCapabilities.Stored,
        Labels = new Dictionary<string, string> { ["team"] = team },
    };

    private static AgentChanged Changed(AgentSnapshot agent) => new(agent, WsOutbound.Session("agent_update", new JsonObject { ["kind"] = "upsert", ["agent"] = agent.ToJson() }));

    private static JsonObject Payload(string json) => JsonNode.Parse(json)!["message"]!["payload"]!.AsObject();

    [Fact]
    public void Pushes_wait_for_the_subscribing_fetch_to_be_answered_then_the_newest_per_agent_follows_and_a_leaver_is_removed()
    {
        var agents = CreateTestProbe();
        var child = ChildActorOf(SessionAgentsActor.Props(agents.Ref, null));
        var request = AgentRequests.Parse("fetch_agents_request", "f1", new JsonObject
        {
            ["filter"] = new JsonObject { ["labels"] = new JsonObject { ["team"] = "a" } },
            ["subscribe"] = new JsonObject { ["subscriptionId"] = "sub-1" },
        }, maxIdsPerRequest: 10);
        child.Tell(request);
        agents.ExpectMsg<ListAgents>();

        // Changes while the response is being built are held: the client must not see an update before the list.
        var t0 = new DateTimeOffset(2026, 1, 2, 3, 4, 5, TimeSpan.Zero);
        Sys.EventStream.Publish(Changed(Agent("a1", "a", t0)));
        Sys.EventStream.Publish(Changed(Agent("a1", "a", t0.AddSeconds(1))));
        Sys.EventStream.Publish(Changed(Agent("a2", "b", t0)));
        ExpectNoMsg(TimeSpan.FromMilliseconds(100));

        agents.Reply(new AgentList([Agent("a1", "a", t0), Agent("a3", "b", t0)]));
        var response = Payload(ExpectMsg<Answered>().Json!);
        Assert.Equal(("f1", "sub-1"), (response["requestId"]!.GetValue<string>(), response["subscriptionId"]!.GetValue<string>()));
        Assert.Equal(["a1"], response["entries"]!.AsArray().Select(e => e!["agent"]!["id"]!.GetValue<string>()));

        // Then the held pushes: the newest a1 (an upsert) and a2, which does not match (a remove).
        var pushed = new[] { Payload(ExpectMsg<Pushed>().Json), Payload(ExpectMsg<Pushed>().Json) };
        var upsert = Assert.Single(pushed, p => p["kind"]!.GetValue<string>() == "upsert");
        Assert.Equal(t0.AddSeconds(1), DateTimeOffset.Parse(upsert["agent"]!["updatedAt"]!.GetValue<string>()));
        Assert.Equal("a2", Assert.Single(pushed, p => p["kind"]!.GetValue<string>() == "remove")["agentId"]!.GetValue<string>());

        // From now on pushes go out as they come.
        Sys.EventStream.Publish(new AgentRemoved(AgentId.From("a1")));
        Assert.Equal("remove", Payload(ExpectMsg<Pushed>().Json)["kind"]!.GetValue<string>());
    }

    [Fact]
    public void A_request_whose_agents_ask_fails_is_still_answered_once_and_a_missing_handle_is_refused_without_asking()
    {
        var agents = CreateTestProbe();
        var child = ChildActorOf(SessionAgentsActor.Props(agents.Ref, null));
        child.Tell(AgentRequests.Parse("resume_agent_request", "r1", new JsonObject { ["handle"] = null }, 10));
        var refused = Payload(ExpectMsg<Answered>().Json!);
        Assert.Equal(("agent_create_failed", "r1"), (refused["status"]!.GetValue<string>(), refused["requestId"]!.GetValue<string>()));
        agents.ExpectNoMsg(TimeSpan.FromMilliseconds(50));

        child.Tell(AgentRequests.Parse("fetch_agent_request", "r2", new JsonObject { ["agentId"] = "a9" }, 10));
        agents.ExpectMsg<ToAgent>();
        agents.Reply(new Status.Failure(new InvalidOperationException("the agents are gone")));
        var failed = Payload(ExpectMsg<Answered>().Json!);
        Assert.Equal(("r2", "handler_error"), (failed["requestId"]!.GetValue<string>(), failed["code"]!.GetValue<string>()));

        // A command for an empty agent id whose ask fails is answered too (not accepted, with why).
        child.Tell(AgentRequests.Parse("set_agent_mode_request", "m1", new JsonObject { ["agentId"] = "", ["modeId"] = "plan" }, 10));
        agents.ExpectMsg<ToAgent>();
        agents.Reply(new Status.Failure(new InvalidOperationException("no answer")));
        var notTaken = Payload(ExpectMsg<Answered>().Json!);
        Assert.Equal(("m1", false, "no answer"), (notTaken["requestId"]!.GetValue<string>(), notTaken["accepted"]!.GetValue<bool>(), notTaken["error"]!.GetValue<string>()));
        ExpectNoMsg(TimeSpan.FromMilliseconds(100));
    }
}
