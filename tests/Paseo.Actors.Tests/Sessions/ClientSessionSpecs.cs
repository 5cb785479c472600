using System.Text.Json.Nodes;
using Akka.Actor;
using Akka.TestKit;
using Paseo.Actors.Agents;
using Paseo.Actors.Guardian;
using Paseo.Actors.Providers;
using Paseo.Actors.Sessions;
using Paseo.Actors.Tests.Support;
using Paseo.Transport.Identity;
using Xunit.Abstractions;
using static Paseo.Actors.Agents.AgentProtocol;
using static Paseo.Actors.Sessions.SessionProtocol;

namespace Paseo.Actors.Tests.Sessions;

/// <summary>
/// One client session between a connection probe, an agents probe that answers only when told to, and a guardian probe:
/// every message is taken at once, requests waiting for the agents are capped, and waits are told with a wait id.
/// </summary>
public sealed class ClientSessionSpecs(ITestOutputHelper output) : Akka.TestKit.Xunit2.TestKit(SpecConfig.Hocon, output)
{
    private TestProbe _connection = null!;
    private TestProbe _agents = null!;

    private IActorRef Create(int maxRequestsInFlight, int maxIdsPerRequest = 1000)
    {
        _connection = CreateTestProbe();
        _agents = CreateTestProbe();
        var guardian = CreateTestProbe();
        var session = Sys.ActorOf(ClientSessionActor.Props(ClientSessionId.From("cid_1"), _agents.Ref, guardian.Ref, new Dictionary<string, IAgentProvider>(),
            SessionSettings.Default with { MaxRequestsInFlight = maxRequestsInFlight, MaxIdsPerRequest = maxIdsPerRequest }));
        session.Tell(new Attach(ClientSessionId.From("cid_1"), "cli", false, _connection.Ref));
        guardian.ExpectMsg<PaseoGuardianProtocol.GetServerInfo>();
        _connection.ExpectNoMsg(TimeSpan.FromMilliseconds(50)); // not attached before its server_info is on its way
        guardian.Reply(new PaseoGuardianProtocol.ServerInfo(ServerId.New(), "host", "0.0.0", "127.0.0.1:0", DateTimeOffset.UtcNow));
        Assert.Contains("server_info", _connection.ExpectMsg<Outbound>().Json);
        _connection.ExpectMsg<Attached>();
        return session;
    }

    private void Request(IActorRef session, string type, string requestId, JsonObject? fields = null)
    {
        var message = fields ?? [];
        message["type"] = type;
        message["requestId"] = requestId;
        session.Tell(new Inbound(type, requestId, message, _connection.Ref), _connection.Ref);
    }

    private JsonObject NextPayload()
    {
        var frame = JsonNode.Parse(_connection.ExpectMsg<Outbound>().Json)!.AsObject();
        return frame["message"]!["payload"]!.AsObject();
    }

    [Fact]
    public void Requests_handed_to_the_session_children_count_against_the_cap_too()
    {
        var session = Create(maxRequestsInFlight: 1);
        Request(session, "fetch_agent_request", "r1", new JsonObject { ["agentId"] = "a1" });
        _connection.ExpectMsg<InboundTaken>();
        _agents.ExpectMsg<ToAgent>();
        // A daemon request (handled by the session's `daemon` child) is refused while the agents' answer is awaited.
        Request(session, "get_daemon_config_request", "r2");
        _connection.ExpectMsg<InboundTaken>();
        var refused = NextPayload();
        Assert.Equal("too_many_requests", refused["code"]!.GetValue<string>());
        Assert.Equal("r2", refused["requestId"]!.GetValue<string>());
        _agents.Reply(new AgentNotFound("a1", "Agent not found: a1"));
        Assert.Equal("r1", NextPayload()["requestId"]!.GetValue<string>());
        // Once it is answered, the child's request goes through and, answered, frees its place.
        Request(session, "list_provider_modes_request", "r3", new JsonObject { ["provider"] = "none" });
        _connection.ExpectMsg<InboundTaken>();
        Assert.Equal("r3", NextPayload()["requestId"]!.GetValue<string>());
        Request(session, "list_provider_modes_request", "r4", new JsonObject { ["provider"] = "none" });
        _connection.ExpectMsg<InboundTaken>();
        Assert.Equal("r4", NextPayload()["requestId"]!.GetValue<string>());
    }

    [Fact]
    public void Requests_beyond_max_in_flight_are_refused_at_once_and_accepted_again_once_one_is_answered()
    {
        var session = Create(maxRequestsInFlight: 2);
        Request(session, "fetch_agent_request", "r1", new JsonObject { ["agentId"] = "a1" });
        Request(session, "fetch_agent_request", "r2", new JsonObject { ["agentId"] = "a2" });
        _connection.ExpectMsg<InboundTaken>();
        _connection.ExpectMsg<InboundTaken>();
        var first = _agents.ExpectMsg<ToAgent>();
        var firstAsker = _agents.LastSender;
        _agents.ExpectMsg<ToAgent>();

        Request(session, "fetch_agent_request", "r3", new JsonObject { ["agentId"] = "a3" });
        _connection.ExpectMsg<InboundTaken>(); // taken, and refused: nothing waits for it
        var refused = JsonNode.Parse(_connection.ExpectMsg<Outbound>().Json)!["message"]!;
        Assert.Equal("rpc_error", refused["type"]!.GetValue<string>());
        Assert.Equal(("r3", ClientSessionActor.TooManyRequestsCode), (refused["payload"]!["requestId"]!.GetValue<string>(), refused["payload"]!["code"]!.GetValue<string>()));
        Assert.Contains("paseo.sessions.max-requests-in-flight", refused["payload"]!["error"]!.GetValue<string>());
        _agents.ExpectNoMsg(TimeSpan.Zero);

        // A ping never waits for the agents, so it is never refused.
        Request(session, "ping", "p1");
        _connection.ExpectMsg<InboundTaken>();
        Assert.Equal("p1", NextPayload()["requestId"]!.GetValue<string>());

        Assert.Equal("a1", first.Identifier);
        firstAsker.Tell(new AgentNotFound("a1", "Agent not found: a1"));
        Assert.Equal("r1", NextPayload()["requestId"]!.GetValue<string>());
        Request(session, "fetch_agent_request", "r4", new JsonObject { ["agentId"] = "a4" });
        _connection.ExpectMsg<InboundTaken>();
        Assert.Equal("a4", _agents.ExpectMsg<ToAgent>().Identifier);
    }

    [Fact]
    public void A_request_naming_more_ids_than_allowed_is_refused_with_its_code_and_duplicates_count_once()
    {
        var session = Create(maxRequestsInFlight: 8, maxIdsPerRequest: 2);
        Request(session, "close_items_request", "c1", new JsonObject { ["agentIds"] = new JsonArray("a", "b", "a", "b") });
        _connection.ExpectMsg<InboundTaken>();
        Assert.Equal("a", ((ToAgent)_agents.ExpectMsg<ToAgent>()).Identifier);
        Assert.Equal("b", ((ToAgent)_agents.ExpectMsg<ToAgent>()).Identifier);
        _agents.ExpectNoMsg(TimeSpan.FromMilliseconds(50));

        Request(session, "close_items_request", "c2", new JsonObject { ["agentIds"] = new JsonArray("a", "b", "c") });
        _connection.ExpectMsg<InboundTaken>();
        var refused = NextPayload();
        Assert.Equal(("c2", ClientSessionActor.TooManyIdsCode), (refused["requestId"]!.GetValue<string>(), refused["code"]!.GetValue<string>()));
        Assert.Contains("paseo.sessions.max-ids-per-request", refused["error"]!.GetValue<string>());
        _agents.ExpectNoMsg(TimeSpan.FromMilliseconds(50));
    }

    [Fact]
    public void A_wait_is_told_to_the_agent_with_a_wait_id_and_answered_by_it_without_an_ask()
    {
        var session = Create(maxRequestsInFlight: 1);
        Request(session, "wait_for_finish_request", "w1", new JsonObject { ["agentId"] = "a1" });
        _connection.ExpectMsg<InboundTaken>();
        var wait = (WaitForFinish)_agents.ExpectMsg<ToAgent>().Command;
        Assert.Null(wait.Timeout);
        // Told by the session's agent child itself: no temporary ask actor, no day-long timer.
        var waiter = _agents.LastSender;
        Assert.Equal(session.Path / "agents", waiter.Path);

        // The wait holds the one slot until it is answered.
        Request(session, "fetch_agents_request", "r2");
        _connection.ExpectMsg<InboundTaken>();
        Assert.Equal(ClientSessionActor.TooManyRequestsCode, NextPayload()["code"]!.GetValue<string>());

        waiter.Tell(new AgentNotFound("a1", "Agent not found: a1", wait.WaitId), _agents.Ref);
        var answered = NextPayload();
        Assert.Equal(("w1", "error", "Agent not found: a1"), (answered["requestId"]!.GetValue<string>(), answered["status"]!.GetValue<string>(), answered["error"]!.GetValue<string>()));
        waiter.Tell(new AgentNotFound("a1", "a late duplicate", wait.WaitId), _agents.Ref); // answered once only
        Request(session, "fetch_agents_request", "r3");
        _connection.ExpectMsg<InboundTaken>();
        _agents.ExpectMsg<ListAgents>();
        _connection.ExpectNoMsg(TimeSpan.FromMilliseconds(100));
    }

    [Fact]
    public void A_wait_longer_than_a_timer_can_hold_waits_without_a_timeout_and_the_session_goes_on()
    {
        var session = Create(maxRequestsInFlight: 4);
        Request(session, "wait_for_finish_request", "w1", new JsonObject { ["agentId"] = "a1", ["timeoutMs"] = 1e15 });
        _connection.ExpectMsg<InboundTaken>();
        Assert.Null(((WaitForFinish)_agents.ExpectMsg<ToAgent>().Command).Timeout);
        Request(session, "ping", "p1");
        _connection.ExpectMsg<InboundTaken>();
        Assert.Equal("p1", NextPayload()["requestId"]!.GetValue<string>());
    }

    [Fact]
    public void A_wait_whose_agent_stops_without_answering_still_ends_and_frees_its_slot()
    {
        var session = Create(maxRequestsInFlight: 1);
        Request(session, "wait_for_finish_request", "w1", new JsonObject { ["agentId"] = "a1" });
        _connection.ExpectMsg<InboundTaken>();
        var wait = (WaitForFinish)_agents.ExpectMsg<ToAgent>().Command;
        // The supervisor says which agent got the wait; that agent then stops with the wait lost in its mailbox.
        var agent = CreateTestProbe();
        _agents.LastSender.Tell(new WaitForwarded(wait.WaitId, agent.Ref), _agents.Ref);
        Watch(agent.Ref);
        Sys.Stop(agent.Ref);
        ExpectTerminated(agent.Ref);

        var answered = NextPayload();
        Assert.Equal(("w1", "error", "The agent stopped before it finished"),
            (answered["requestId"]!.GetValue<string>(), answered["status"]!.GetValue<string>(), answered["error"]!.GetValue<string>()));
        Request(session, "fetch_agents_request", "r2"); // the slot is free again
        _connection.ExpectMsg<InboundTaken>();
        _agents.ExpectMsg<ListAgents>();
    }
}
