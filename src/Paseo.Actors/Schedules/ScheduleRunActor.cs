using System.Text.Json.Nodes;
using Akka.Actor;
using Paseo.Actors.Agents;
using Paseo.Transport.Protocol;
using Paseo.Transport.Schedules;
using static Paseo.Actors.Agents.AgentProtocol;

namespace Paseo.Actors.Schedules;

/// <summary>
/// One run of a schedule (§2.5), as phases: for an existing agent, <b>checking</b> it (archived or busy: the run fails,
/// nothing is interrupted), then <b>prompting</b>; for a new agent, <b>creating</b> it with the prompt; then
/// <b>waiting</b> for the turn's end. It tells its schedule <see cref="Finished"/> and stops. Runs have no timeout (as
/// Paseo's); a run whose agent asks a permission waits for someone to answer it.
/// </summary>
public sealed class ScheduleRunActor : ReceiveActor, IWithTimers
{
    // An agent waiting on a permission answers a finish wait at once: ask again after this long rather than spin.
    private static readonly TimeSpan PermissionRecheck = TimeSpan.FromSeconds(30);

    private readonly IActorRef _agents;
    private readonly string _prompt;
    private string? _agentId;
    private bool _created;

    public ITimerScheduler Timers { get; set; } = null!;

    /// <summary>To the schedule: how the run ended.</summary>
    public sealed record Finished(string RunId, bool Succeeded, string? AgentId, string? Output, string? Error);

    private readonly string _runId;

    public ScheduleRunActor(IActorRef agents, string scheduleId, string runId, string prompt, ScheduleTarget target)
    {
        _agents = agents;
        _runId = runId;
        _prompt = prompt;
        switch (target)
        {
            case ScheduleTarget.Agent agent:
                _agentId = agent.AgentId;
                Become(Checking);
                _agents.Tell(new ToAgent(agent.AgentId, GetSnapshot.Instance));
                break;
            case ScheduleTarget.NewAgent created:
                Become(Creating);
                try
                {
                    _agents.Tell(new CreateAgent(Config(created.Config), prompt, null,
                        new Dictionary<string, string> { ["paseo.schedule-id"] = scheduleId, ["paseo.schedule-run"] = Guid.NewGuid().ToString("D") }));
                }
                catch (ScheduleException e)
                {
                    Self.Tell(new AgentCreateFailed(e.Message));
                }
                break;
        }
    }

    public static Props Props(IActorRef agents, string scheduleId, string runId, string prompt, ScheduleTarget target) =>
        Akka.Actor.Props.Create(() => new ScheduleRunActor(agents, scheduleId, runId, prompt, target));

    private sealed record Recheck
    {
        public static readonly Recheck Instance = new();
    }

    private static AgentConfig Config(JsonObject config) => new(
        WsInbound.Str(config, "provider") ?? throw new ScheduleException("The new agent's config has no provider"),
        WsInbound.Str(config, "cwd") ?? throw new ScheduleException("The new agent's config has no cwd"),
        WsInbound.Str(config, "modeId"), WsInbound.Str(config, "model"), WsInbound.Str(config, "thinkingOptionId"),
        WsInbound.Str(config, "title"), WsInbound.Str(config, "systemPrompt"));

    private void End(bool succeeded, string? output, string? error)
    {
        // A failed run of an existing agent names none (as Paseo's); a new agent made before the failure is named (Paseo loses it).
        Context.Parent.Tell(new Finished(_runId, succeeded, succeeded || _created ? _agentId : null, output, error));
        Context.Stop(Self);
    }

    private void NotFound() => Receive<AgentNotFound>(notFound => End(false, null, notFound.Error));

    private void Checking()
    {
        NotFound();
        Receive<AgentSnapshot>(agent =>
        {
            if (agent.ArchivedAt is not null) End(false, null, $"Agent {agent.Id} is archived");
            else
            {
                _agentId = agent.Id;
                Become(Prompting);
                // Checked and started in one step: a turn that began since the look is not interrupted.
                _agents.Tell(new ToAgent(agent.Id, new SendMessageIfIdle(_prompt)));
            }
        });
    }

    private void Prompting()
    {
        NotFound();
        Receive<MessageAccepted>(_ => Wait());
        Receive<AgentBusy>(_ => End(false, null, $"Agent {_agentId} already has an active run"));
        Receive<CommandResult>(result =>
        {
            if (result.Accepted) Wait();
            else End(false, null, result.Error ?? "The agent did not take the prompt");
        });
    }

    private void Creating()
    {
        Receive<AgentCreated>(created =>
        {
            _agentId = created.Agent.Id;
            _created = true;
            Wait();
        });
        Receive<AgentCreateFailed>(failed => End(false, null, failed.Error));
    }

    private void Wait()
    {
        Become(Waiting);
        _agents.Tell(new ToAgent(_agentId!, new WaitForFinish(null)));
    }

    /// <summary>§2.5: the output of a turn without a last message is the digest of its timeline (the rows since its prompt).</summary>
    private void Digesting()
    {
        Receive<TimelinePage>(page =>
        {
            var items = (page.Fields["entries"] as JsonArray ?? []).OfType<JsonObject>().Select(e => e["item"] as JsonObject).OfType<JsonObject>().ToList();
            var start = items.FindLastIndex(i => WsInbound.Str(i, "type") == "user_message");
            End(true, TimelineDigest.Activity(start < 0 ? items : items[(start + 1)..], 0), null);
        });
        Receive<Status.Failure>(_ => End(true, "No activity to display.", null));
        Receive<AgentNotFound>(_ => End(true, "No activity to display.", null));
    }

    private void Waiting()
    {
        NotFound();
        Receive<WaitForwarded>(forwarded => Context.Watch(forwarded.Agent));
        Receive<Terminated>(_ => End(false, null, "The agent stopped before its turn ended"));
        Receive<Recheck>(_ => _agents.Tell(new ToAgent(_agentId!, new WaitForFinish(null))));
        Receive<FinishResult>(finished =>
        {
            switch (finished.Status)
            {
                case "permission":
                    Timers.StartSingleTimer("recheck", Recheck.Instance, PermissionRecheck);
                    break;
                case "error":
                    End(false, null, string.IsNullOrWhiteSpace(finished.Error) ? "Provider run failed" : finished.Error);
                    break;
                default:
                    // Finished (a canceled turn counts as success, as Paseo's). A turn that said nothing: its timeline's digest.
                    if (finished.LastMessage?.Trim() is { Length: > 0 } text) End(true, text, null);
                    else
                    {
                        Become(Digesting);
                        _agents.Tell(new ToAgent(_agentId!, new FetchTimeline(new TimelineQuery("tail", null, 200, "projected"), false)));
                    }
                    break;
            }
        });
    }
}
