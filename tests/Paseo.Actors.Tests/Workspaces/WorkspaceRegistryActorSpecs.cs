using Akka.Actor;
using Akka.TestKit;
using Microsoft.Extensions.Time.Testing;
using Paseo.Actors.Tests.Support;
using Paseo.Actors.Workspaces;
using Paseo.Transport.Protocol;
using Paseo.Transport.Workspaces;
using Xunit.Abstractions;
using static Paseo.Actors.Agents.AgentProtocol;
using static Paseo.Actors.Workspaces.WorkspaceProtocol;

namespace Paseo.Actors.Tests.Workspaces;

/// <summary>The workspace registry on its own: its files, its bootstrap from the agents, a damaged file, its refusals.</summary>
public sealed class WorkspaceRegistryActorSpecs(ITestOutputHelper output) : Akka.TestKit.Xunit2.TestKit(SpecConfig.Hocon, output), IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("paseo-registry-").FullName;
    private readonly FakeTimeProvider _time = new(DateTimeOffset.Parse("2026-12-06T10:00:00Z"));

    private string Projects => Path.Combine(_dir, "projects");

    private static AgentSnapshot Agent(string id, string cwd) => new()
    {
        Id = id, Provider = "mock", Cwd = cwd, CreatedAt = DateTimeOffset.UnixEpoch, UpdatedAt = DateTimeOffset.UnixEpoch, Status = AgentStatus.Idle,
        Capabilities = new AgentCapabilities(true, true, false, false, false, true),
    };

    private (IActorRef Registry, TestProbe Agents) Start()
    {
        var agents = CreateTestProbe();
        var registry = Sys.ActorOf(WorkspaceRegistryActor.Props(Projects, Path.Combine(_dir, "worktrees"), agents.Ref, _time));
        return (registry, agents);
    }

    private string Dir(string name)
    {
        var path = Path.Combine(_dir, name);
        Directory.CreateDirectory(path);
        return path;
    }

    [Fact]
    public void Missing_files_are_rebuilt_from_the_agents_and_written()
    {
        var notes = Dir("notes");
        var (_, agents) = Start();
        agents.ExpectMsg<ListAgents>();
        agents.Reply(new AgentList([Agent("a1", notes), Agent("a2", Path.Combine(_dir, "gone"))]));
        AwaitAssert(() =>
        {
            var loaded = WorkspaceRegistryFiles.Load(Projects);
            Assert.NotNull(loaded);
            // The directory that no longer exists gets no workspace.
            Assert.Equal([notes], loaded.Workspaces.Keys);
            Assert.Equal("directory", loaded.Workspaces[notes].Kind);
        }, TimeSpan.FromSeconds(10));
        Assert.Equal(notes, DaemonWorkspaces.Get(Sys).Current.WithCwd(notes)?.Cwd);
    }

    [Fact]
    public void A_damaged_file_is_left_as_it_is_and_changes_are_refused_with_the_reason()
    {
        Directory.CreateDirectory(Projects);
        File.WriteAllText(Path.Combine(Projects, "projects.json"), "[]");
        File.WriteAllText(Path.Combine(Projects, "workspaces.json"), "{ broken");
        var notes = Dir("notes");
        var (registry, agents) = Start();
        agents.ExpectMsg<ListAgents>();
        agents.Reply(new AgentList([Agent("a1", notes)]));
        // Served from memory all the same, so the agent's workspace exists for the app.
        AwaitAssert(() => Assert.NotNull(DaemonWorkspaces.Get(Sys).Current.WithCwd(notes)), TimeSpan.FromSeconds(10));
        registry.Tell(new OpenProject(Dir("other")));
        var refused = ExpectMsg<ProjectOpened>();
        Assert.Null(refused.Workspace);
        Assert.Contains("workspaces.json: not valid JSON", refused.Error);
        Assert.Equal("{ broken", File.ReadAllText(Path.Combine(Projects, "workspaces.json")));
    }

    [Fact]
    public void Open_archive_and_the_refusals_of_archive()
    {
        var (registry, agents) = Start();
        agents.ExpectMsg<ListAgents>();
        agents.Reply(new AgentList([]));
        var notes = Dir("notes");
        registry.Tell(new OpenProject(notes + "/"));
        var opened = ExpectMsg<ProjectOpened>();
        Assert.Equal(notes, opened.Workspace!.WorkspaceId);
        registry.Tell(new ArchiveWorkspace("/nowhere"));
        Assert.Equal("Workspace not found: /nowhere", ExpectMsg<WorkspaceArchived>().Error);
        _time.Advance(TimeSpan.FromMinutes(1));
        registry.Tell(new ArchiveWorkspace(notes));
        var archived = ExpectMsg<WorkspaceArchived>();
        Assert.Equal(_time.GetUtcNow(), archived.ArchivedAt);
        Assert.True(DaemonWorkspaces.Get(Sys).Current.Projects[notes].Archived);
        // An agent created there brings it back.
        registry.Tell(new EnsureAgentWorkspace(notes));
        Assert.False(ExpectMsg<AgentWorkspaceReady>().Workspace!.Archived);
        registry.Tell(new EnsureAgentWorkspace(Path.Combine(_dir, "missing")));
        Assert.Equal($"Directory does not exist: {Path.Combine(_dir, "missing")}", ExpectMsg<AgentWorkspaceReady>().Error);
    }

    [Fact]
    public void Every_change_is_published_with_the_ids_it_touched()
    {
        var changes = CreateTestProbe();
        Sys.EventStream.Subscribe(changes.Ref, typeof(WorkspacesChanged));
        var (registry, agents) = Start();
        agents.ExpectMsg<ListAgents>();
        agents.Reply(new AgentList([]));
        var notes = Dir("notes");
        registry.Tell(new OpenProject(notes));
        ExpectMsg<ProjectOpened>();
        changes.FishForMessage<WorkspacesChanged>(c => c.ChangedIds.Contains(notes));
        registry.Tell(new MarkArchiving([notes], true));
        ExpectMsg<Akka.Done>();
        var marked = changes.FishForMessage<WorkspacesChanged>(c => c.Registry.Archiving.ContainsKey(notes));
        Assert.Equal([notes], marked.ChangedIds);
    }

    public new void Dispose()
    {
        base.Dispose();
        // A save the registry started before the system stopped may still be writing its temp file: the folder is removed
        // once that write is done (a few attempts, no waiting on a clock).
        for (var attempt = 0; ; attempt++)
        {
            try
            {
                Directory.Delete(_dir, recursive: true);
                return;
            }
            catch (IOException) when (attempt < 1000)
            {
                Thread.Yield();
            }
        }
    }
}
