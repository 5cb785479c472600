using Paseo.Actors.Mcp;
using Paseo.Actors.Tests.Support;
using Xunit.Abstractions;

namespace Paseo.Actors.Tests.Mcp;

/// <summary>What new provider sessions are given of the MCP server (§4.2): the entry only with injection on and a URL; never with --no-inject-mcp.</summary>
public sealed class DaemonMcpSpecs(ITestOutputHelper output) : Akka.TestKit.Xunit2.TestKit(SpecConfig.Hocon, output)
{
    private const string AgentId = "3f8e2c1a-7b4d-4e9a-9c2f-5d6e7f8a9b0c";

    [Fact]
    public void The_entry_names_the_agent_and_carries_its_token_only_when_injection_is_on_and_the_listener_has_a_url()
    {
        var mcp = DaemonMcp.Get(Sys);
        mcp.Configure(enabled: true, injectIntoAgents: true);
        Assert.Null(mcp.EntryFor(AgentId)); // no URL yet (or a unix socket)
        mcp.ListenerBound("http://127.0.0.1:6767/mcp/agents");
        var entry = mcp.EntryFor(AgentId)!;
        Assert.Equal(("paseo", $"http://127.0.0.1:6767/mcp/agents?callerAgentId={AgentId}"), (entry.Name, entry.Url));
        Assert.True(mcp.Credentials.Verify(AgentId, entry.Authorization["Bearer ".Length..]));
        Assert.DoesNotContain(entry.Authorization, entry.ToString());
        mcp.SetInjectIntoAgents(false);
        Assert.Null(mcp.EntryFor(AgentId));
    }

    [Fact]
    public void No_inject_mcp_is_not_undone_by_the_apps_switch()
    {
        var mcp = DaemonMcp.Get(Sys);
        mcp.ListenerBound("http://127.0.0.1:6767/mcp/agents");
        mcp.Configure(enabled: true, injectIntoAgents: true, injectForbidden: true);
        Assert.Null(mcp.EntryFor(AgentId));
        mcp.SetInjectIntoAgents(true);
        Assert.Null(mcp.EntryFor(AgentId));
    }
}
