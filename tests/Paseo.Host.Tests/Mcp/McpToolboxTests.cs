using System.Text.Json.Nodes;
using Akka.Actor;
using Paseo.Actors.Mcp;
using Paseo.Host.Mcp;

namespace Paseo.Host.Tests.Mcp;

/// <summary>
/// The toolbox of one MCP session against a scripted client session (an actor that answers as the daemon's session
/// would, and holds a wait until told): a pending wait_for_agent ends with the spec's reason when the same session
/// prompts, cancels or archives the agent (§4.5). The order is exact here: the prompt is sent once the wait has reached
/// the session.
/// </summary>
public sealed class McpToolboxTests : IAsyncLifetime
{
    private const string AgentId = "3f8e2c1a-7b4d-4e9a-9c2f-5d6e7f8a9b0c";
    private readonly ActorSystem _system = ActorSystem.Create("toolbox-tests", "akka.loglevel = WARNING");

    public Task InitializeAsync() => Task.CompletedTask;

    public async Task DisposeAsync() => await _system.Terminate();

    /// <summary>Answers fetch_agent (running), the prompt, cancel and archive; holds each wait and says it arrived.</summary>
    private sealed class ScriptedSession : ReceiveActor
    {
        public ScriptedSession(Channel waits)
        {
            Receive<McpClientActor.Request>(request =>
            {
                JsonObject Reply(string type, JsonObject payload) => new() { ["type"] = type, ["payload"] = payload };
                switch (request.Type)
                {
                    case "fetch_agent_request":
                        Sender.Tell(new McpClientActor.Reply(Reply("fetch_agent_response", new JsonObject
                        {
                            ["agent"] = new JsonObject { ["id"] = AgentId, ["status"] = "running", ["provider"] = "mock", ["cwd"] = "/tmp" },
                        })));
                        break;
                    case "wait_for_finish_request":
                        waits.Arrived.Release(); // held: answered never, as a turn that goes on
                        break;
                    case "send_agent_message_request":
                        Sender.Tell(new McpClientActor.Reply(Reply("send_agent_message_response", new JsonObject { ["accepted"] = true })));
                        break;
                    default:
                        Sender.Tell(new McpClientActor.Reply(Reply(request.Type + "_response", [])));
                        break;
                }
            });
        }
    }

    public sealed class Channel
    {
        public SemaphoreSlim Arrived { get; } = new(0);
    }

    [Theory]
    [InlineData("send_agent_prompt", "Agent run interrupted by new prompt")]
    [InlineData("cancel_agent", "Agent run cancelled")]
    [InlineData("archive_agent", "Agent archived")]
    public async Task A_pending_wait_ends_with_the_reason_when_the_same_session_acts_on_the_agent(string tool, string reason)
    {
        var waits = new Channel();
        var session = _system.ActorOf(Props.Create(() => new ScriptedSession(waits)));
        var toolbox = new McpToolbox(session, ActorRefs.Nobody, null, "/tmp", "/root");
        var waiting = toolbox.CallAsync("wait_for_agent", new JsonObject { ["agentId"] = AgentId }, CancellationToken.None);
        Assert.True(await waits.Arrived.WaitAsync(TimeSpan.FromSeconds(10)), "the wait never reached the session");
        Assert.False(waiting.IsCompleted);

        var args = new JsonObject { ["agentId"] = AgentId };
        if (tool == "send_agent_prompt")
        {
            args["prompt"] = "next";
            args["background"] = true;
        }
        await toolbox.CallAsync(tool, args, CancellationToken.None);
        var ended = await Assert.ThrowsAsync<McpToolException>(() => waiting.WaitAsync(TimeSpan.FromSeconds(10)));
        Assert.Equal(reason, ended.Message);
    }
}
