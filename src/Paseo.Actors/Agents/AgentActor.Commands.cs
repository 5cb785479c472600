using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Akka.Actor;
using Akka.Event;
using Paseo.Actors.Providers;
using Paseo.Transport.Files;
using Paseo.Transport.Protocol;
using static Paseo.Actors.Agents.AgentProtocol;
using static Paseo.Actors.Providers.ProviderProtocol;

namespace Paseo.Actors.Agents;

/// <summary>An agent's commands that change it the same way in several phases: archive, delete, timeline, waits, permissions, settings.</summary>
public sealed partial class AgentActor
{
    private void Unarchive()
    {
        if (_record.ArchivedAt is not null) Change(_record with { ArchivedAt = null, UpdatedAt = Now });
    }

    private void OnArchive()
    {
        if (_observer is not null)
        {
            // An internal agent kept by archiving (a loop's `archive`): from now on an ordinary stored agent, with the
            // rows it has in memory.
            Context.Unwatch(_observer);
            _observer = null;
            _unwritten = null;
            Timers.Cancel(WriteRowsDue.Instance);
            Save();
            if (_timeline.Rows.Count > 0) _store.Tell(new AgentStoreProtocol.AppendRows(_id.Value, _record.Cwd, _timeline.Rows.ToList()));
        }
        var archivedAt = _record.ArchivedAt ?? Now;
        Change(_record with { ArchivedAt = archivedAt, RequiresAttention = false, AttentionReason = null, AttentionTimestamp = null, UpdatedAt = Now });
        Sender.Tell(new Archived(_id, archivedAt));
    }

    private void OnDelete()
    {
        if (_observer is not null)
        {
            // Internal: nothing on disk, no client knew it.
            Sender.Tell(new Deleted(_id));
            Context.Stop(Self);
            return;
        }
        _unwritten = null; // its files go: rows still waiting to be written would bring the timeline file back
        _store.Tell(new AgentStoreProtocol.DeleteAgent(_id.Value, _record.Cwd, Sender, new Deleted(_id), new AgentRemoved(_id)));
        Context.Stop(Self);
    }

    private void OnFetchTimeline(FetchTimeline fetch)
    {
        var snapshot = Snapshot();
        if (_timeline.CanAnswer(fetch.Query))
        {
            Sender.Tell(new TimelinePage(snapshot, _timeline.Fetch(fetch.Query, _record.Provider, fetch.ReasoningMergeEnum)));
            return;
        }
        // Older rows than memory keeps: read the file (on the store's thread) and answer from it plus the rows not yet written.
        var epoch = _timeline.Epoch;
        var provider = _record.Provider;
        var inMemory = _timeline.Rows.ToList();
        _store.Ask<AgentStoreProtocol.TimelineRead>(new AgentStoreProtocol.ReadTimeline(_id.Value, _record.Cwd), TimeSpan.FromSeconds(8))
            .PipeTo(Sender, success: read =>
            {
                var full = new AgentTimeline(epoch);
                var lastOnDisk = read.Rows.Count > 0 ? read.Rows[^1].Seq : 0;
                full.Restore(read.Rows.Concat(inMemory.Where(r => r.Seq > lastOnDisk)));
                return new TimelinePage(snapshot, full.Fetch(fetch.Query, provider, fetch.ReasoningMergeEnum));
            });
    }

    private void OnWaitForFinish(WaitForFinish wait)
    {
        if (_pendingPermissions.Count > 0)
        {
            Sender.Tell(new FinishResult("permission", Snapshot(), null, _lastTurnMessage, wait.WaitId));
            return;
        }
        if (_finishWaiters.Count >= _maxWaiters)
        {
            Sender.Tell(new FinishResult("error", Snapshot(), $"Too many clients wait for this agent ({_maxWaiters}, paseo.agents.max-waiters-per-agent)", _lastTurnMessage, wait.WaitId));
            return;
        }
        var waiter = ++_nextWaiter;
        if (_finishWaiters.Values.All(w => !w.Who.Equals(Sender))) Context.Watch(Sender);
        _finishWaiters[waiter] = (Sender, wait.WaitId);
        if (wait.Timeout is { } timeout) Timers.StartSingleTimer(("finish", waiter), new FinishTimedOut(waiter), timeout);
    }

    private FinishResult Finished() => _settled == AgentStatus.Error
        ? new FinishResult("error", Snapshot(), _record.LastError ?? "Agent failed", _lastTurnMessage)
        : new FinishResult("idle", Snapshot(), null, _lastTurnMessage);

    /// <summary>Every finish waiter gets <paramref name="result"/> (with its own wait id), and none is watched any more.</summary>
    private void ReleaseFinishWaiters(FinishResult result)
    {
        foreach (var (key, waiter) in _finishWaiters)
        {
            Timers.Cancel(("finish", key));
            waiter.Who.Tell(result with { WaitId = waiter.WaitId });
        }
        foreach (var who in _finishWaiters.Values.Select(w => w.Who).Distinct()) Context.Unwatch(who);
        _finishWaiters.Clear();
    }

    private void UnwatchIfDone(IActorRef who)
    {
        if (_finishWaiters.Values.All(w => !w.Who.Equals(who))) Context.Unwatch(who);
    }

    private void OnPermissionResponse(RespondToPermission response)
    {
        if (!_pendingPermissions.Remove(response.RequestId))
        {
            Sender.Tell(new CommandResult(_id, false, $"No pending permission request {response.RequestId}"));
            return;
        }
        Publish(new JsonObject
        {
            ["type"] = "permission_resolved",
            ["provider"] = _record.Provider,
            ["requestId"] = response.RequestId,
            ["resolution"] = JsonObject.Create(response.Resolution),
        });
        _session?.Tell(new ResolvePermission(response.RequestId, JsonObject.Create(response.Resolution)!));
        if (_pendingPermissions.Count == 0 && _record.AttentionReason == "permission")
            Change(_record with { RequiresAttention = false, AttentionReason = null, AttentionTimestamp = null });
        else Changed();
        Sender.Tell(new CommandResult(_id, true, null));
    }

    private void OnSetMode(SetAgentMode set)
    {
        if (_provider is null || Modes.All(m => m.Id != set.ModeId))
        {
            Sender.Tell(new CommandResult(_id, false, $"Unknown mode {set.ModeId} for provider {_record.Provider}"));
            return;
        }
        Change(_record with { LastModeId = set.ModeId, UpdatedAt = Now });
        _session?.Tell(new SetMode(set.ModeId));
        Sender.Tell(new CommandResult(_id, true, null));
    }

    /// <param name="rebuild">The agent has a provider session, which must be rebuilt for the change (see <see cref="RebuildSession"/>).</param>
    private void OnSetModel(SetAgentModel set, bool rebuild)
    {
        var model = string.IsNullOrWhiteSpace(set.ModelId) ? null : set.ModelId.Trim();
        var known = _provider!.Description.Models.Select(m => WsInbound.Str(m, "id")).OfType<string>().ToList();
        if (model is not null && !_provider.DiscoversModels && known.Count > 0 && !known.Contains(model))
        {
            Sender.Tell(new CommandResult(_id, false,
                $"Unknown model {model} for provider {_record.Provider} (known: {string.Join(", ", known)}; add it with agents.providers.{_record.Provider}.additionalModels)"));
            return;
        }
        if (model != _record.Model)
        {
            Change(_record with { Model = model, UpdatedAt = Now });
            if (rebuild) RebuildSession();
        }
        Sender.Tell(new CommandResult(_id, true, null));
    }

    private void OnSetThinking(SetAgentThinking set, bool rebuild)
    {
        var thinking = string.IsNullOrWhiteSpace(set.ThinkingOptionId) ? null : set.ThinkingOptionId.Trim();
        if (thinking != _record.ThinkingOptionId)
        {
            Change(_record with { ThinkingOptionId = thinking, UpdatedAt = Now });
            if (rebuild) RebuildSession();
        }
        Sender.Tell(new CommandResult(_id, true, null));
    }

    /// <summary>
    /// A CLI takes its model and thinking at start: the provider session is stopped — now when idle, after the turn
    /// otherwise — and the next prompt starts a new one with the new settings, resuming the conversation from the
    /// persistence handle. (Lazily: several changes in a row start one process, not one each.)
    /// </summary>
    private void RebuildSession()
    {
        if (_phase == AgentPhase.Idle) StopSession();
        else _rebuildSession = true;
    }

    private void OnUpdate(UpdateAgent update)
    {
        var name = string.IsNullOrWhiteSpace(update.Name) ? null : update.Name.Trim();
        if (name is null && (update.Labels is null || update.Labels.Count == 0))
        {
            Sender.Tell(new CommandResult(_id, false, "Nothing to update (provide name and/or labels)"));
            return;
        }
        var labels = new Dictionary<string, string>(_record.Labels);
        if (update.Labels is not null) foreach (var (k, v) in update.Labels) labels[k] = v;
        Change(_record with { Title = name ?? _record.Title, Labels = labels, UpdatedAt = Now });
        Sender.Tell(new CommandResult(_id, true, null));
    }
}
