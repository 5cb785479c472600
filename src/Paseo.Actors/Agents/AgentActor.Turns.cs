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

/// <summary>
/// What an agent's provider session says: a turn's start, its rows (assistant and reasoning deltas coalesced), its
/// permissions, its end — and how each change is committed to the timeline, published to the sessions and stored.
/// </summary>
public sealed partial class AgentActor
{
    private void OnProviderEvent(ProviderEvent providerEvent)
    {
        // Text deltas wait at most one window; anything else from the provider comes after them, in order.
        if (providerEvent is not Timeline) FlushDeltas();
        switch (providerEvent)
        {
            case ThreadStarted started:
                var persistence = new JsonObject { ["provider"] = _record.Provider, ["sessionId"] = started.SessionId, ["nativeHandle"] = started.SessionId };
                _runtimeInfo = JsonSerializer.SerializeToElement(new JsonObject
                {
                    ["provider"] = _record.Provider, ["sessionId"] = started.SessionId, ["model"] = _record.Model, ["modeId"] = _record.LastModeId,
                });
                _record = _record with { Persistence = JsonSerializer.SerializeToElement(persistence) };
                Publish(new JsonObject { ["type"] = "thread_started", ["sessionId"] = started.SessionId, ["provider"] = _record.Provider });
                Save();
                break;
            case TurnStarted:
                _turnText.Clear();
                TransitionTo(AgentPhase.Running);
                Publish(new JsonObject { ["type"] = "turn_started", ["provider"] = _record.Provider });
                Change(_record with { LastStatus = AgentStatus.Running, UpdatedAt = Now });
                AnswerSendWaiters();
                break;
            case Timeline timeline:
                var itemType = WsInbound.Str(timeline.Item, "type");
                if (itemType == "assistant_message") AppendTurnText(WsInbound.Str(timeline.Item, "text"));
                if (itemType is "assistant_message" or "reasoning" && _coalesce)
                {
                    Coalesce(itemType, WsInbound.Str(timeline.Item, "text") ?? "");
                    break;
                }
                FlushDeltas();
                Commit(timeline.Item);
                break;
            case PermissionRequested requested when WsInbound.Str(requested.Request, "id") is { } requestId:
                _pendingPermissions[requestId] = JsonSerializer.SerializeToElement(requested.Request);
                Publish(new JsonObject { ["type"] = "permission_requested", ["provider"] = _record.Provider, ["request"] = requested.Request.DeepClone() });
                SetAttention("permission");
                ReleaseFinishWaiters(new FinishResult("permission", Snapshot(), null, _lastTurnMessage));
                break;
            case TurnCompleted completed:
                _lastUsage = completed.Usage is null ? null : JsonSerializer.SerializeToElement(completed.Usage);
                var completedEvent = new JsonObject { ["type"] = "turn_completed", ["provider"] = _record.Provider };
                if (completed.Usage is not null) completedEvent["usage"] = completed.Usage.DeepClone();
                EndTurn(AgentStatus.Idle, completedEvent, "finished", null);
                break;
            case TurnFailed failed:
                Commit(TimelineItems.Error(failed.Error));
                EndTurn(AgentStatus.Error, new JsonObject { ["type"] = "turn_failed", ["provider"] = _record.Provider, ["error"] = failed.Error }, "error", failed.Error);
                break;
            case TurnCanceled canceled:
                EndTurn(AgentStatus.Idle, new JsonObject { ["type"] = "turn_canceled", ["provider"] = _record.Provider, ["reason"] = canceled.Reason }, null, null);
                break;
            case ModeChanged mode:
                Change(_record with { LastModeId = mode.ModeId });
                break;
            case ModesDiscovered discovered:
                // ACP agents say their modes at runtime: these replace the provider's static list for this agent.
                _discoveredModes = discovered.Modes;
                if (discovered.CurrentModeId is { } current && current != _record.LastModeId) Change(_record with { LastModeId = current });
                break;
        }
    }

    /// <summary>
    /// The turn ended as <paramref name="status"/> says. The agent is then idle — or starting, when the turn was being
    /// replaced by a new prompt (whose waiters the new turn's start answers), or dormant when its session is gone.
    /// </summary>
    private void EndTurn(AgentStatus status, JsonObject endEvent, string? attention, string? error)
    {
        WriteRows();
        _settled = status;
        var next = _session is null ? AgentPhase.Dormant : _phase == AgentPhase.Replacing ? AgentPhase.Starting : AgentPhase.Idle;
        TransitionTo(next);
        _lastTurnMessage = _turnText.Length > 0 ? _turnText.ToString() : _lastTurnMessage;
        // A turn that ends leaves no question open: pending permissions are resolved as deny.
        foreach (var requestId in _pendingPermissions.Keys.ToList())
        {
            Publish(new JsonObject
            {
                ["type"] = "permission_resolved",
                ["provider"] = _record.Provider,
                ["requestId"] = requestId,
                ["resolution"] = new JsonObject { ["behavior"] = "deny", ["message"] = "The turn ended" },
            });
        }
        _pendingPermissions.Clear();
        Publish(endEvent);
        if (next != AgentPhase.Starting) AnswerSendWaiters();
        _record = _record with { LastStatus = status, LastError = error ?? (status == AgentStatus.Error ? _record.LastError : null), UpdatedAt = Now };
        if (attention is not null) SetAttention(attention);
        else Changed();
        Save();
        foreach (var waiter in _cancelWaiters) waiter.Tell(Snapshot());
        _cancelWaiters.Clear();
        ReleaseFinishWaiters(Finished());
        if (_rebuildSession && _phase == AgentPhase.Idle) StopSession();
    }

    /// <summary>The turn's assistant text for wait_for_finish's lastMessage: its last 256 KiB, so a long stream cannot grow memory.</summary>
    private void AppendTurnText(string? text)
    {
        _turnText.Append(text);
        if (_turnText.Length > MaxTurnTextChars) _turnText.Remove(0, _turnText.Length - MaxTurnTextChars);
    }

    private const int MaxTurnTextChars = 256 * 1024;

    private void AnswerSendWaiters()
    {
        foreach (var (who, answer) in _sendWaiters) who.Tell(answer());
        _sendWaiters.Clear();
    }

    /// <summary>
    /// Consecutive assistant or reasoning deltas that are already waiting in the mailbox are merged into one row (Paseo
    /// coalesces in 60 ms windows). The first delta of a batch sends this actor a flush marker, which queues behind the
    /// deltas that have arrived meanwhile: an idle daemon adds no delay, a busy one makes fewer, larger rows and frames.
    /// With paseo.agents.stream-merge-window set, the marker is a timer of that length instead: fewer frames still, each
    /// delta later by up to the window.
    /// </summary>
    private void Coalesce(string type, string text)
    {
        if (_pendingDeltaType is not null && _pendingDeltaType != type) FlushDeltas();
        _pendingDeltaType = type;
        _pendingDelta.Append(text);
        if (_flushQueued) return;
        _flushQueued = true;
        if (_mergeWindow > TimeSpan.Zero) Timers.StartSingleTimer(CoalesceDue.Instance, CoalesceDue.Instance, _mergeWindow);
        else Self.Tell(CoalesceDue.Instance);
    }

    private void FlushDeltas()
    {
        if (_pendingDeltaType is null) return;
        var item = _pendingDeltaType == "reasoning" ? TimelineItems.Reasoning(_pendingDelta.ToString()) : TimelineItems.AssistantMessage(_pendingDelta.ToString());
        _pendingDeltaType = null;
        _pendingDelta.Clear();
        Commit(item);
    }

    private void SetAttention(string reason)
    {
        var now = Now;
        Change(_record with { RequiresAttention = true, AttentionReason = reason, AttentionTimestamp = now });
        Publish(new JsonObject
        {
            ["type"] = "attention_required",
            ["provider"] = _record.Provider,
            ["reason"] = reason,
            ["timestamp"] = IsoTime.Format(now),
            ["shouldNotify"] = false,
        });
    }

    /// <summary>
    /// Commits a timeline row: numbered, published with its seq and epoch, and handed to the store — a streamed text row
    /// together with the ones after it, within timeline-write-delay (each write wakes the store's thread: per row, that
    /// was a sixth of the daemon's CPU while an agent streamed). Every other row, and a turn's end, writes what waits.
    /// </summary>
    private void Commit(JsonObject item)
    {
        var row = _timeline.Append(item, Now);
        (_unwritten ??= []).Add(row);
        var streamed = WsInbound.Str(item, "type") is "assistant_message" or "reasoning";
        if (!streamed || _writeDelay <= TimeSpan.Zero || _unwritten.Count >= _maxUnwritten) WriteRows();
        else if (_unwritten.Count == 1) Timers.StartSingleTimer(WriteRowsDue.Instance, WriteRowsDue.Instance, _writeDelay);
        PublishStream(new JsonObject { ["type"] = "timeline", ["provider"] = _record.Provider, ["item"] = item.DeepClone() }, row);
    }

    /// <summary>Hands the rows not written yet to the store, in one message.</summary>
    private void WriteRows()
    {
        if (_unwritten is not { Count: > 0 }) return;
        Timers.Cancel(WriteRowsDue.Instance);
        if (_observer is not null)
        {
            _unwritten = null; // an internal agent keeps its rows in memory only
            return;
        }
        _store.Tell(new AgentStoreProtocol.AppendRows(_id.Value, _record.Cwd, _unwritten));
        _unwritten = null;
    }

    private void Publish(JsonObject streamEvent) => PublishStream(streamEvent, null);

    /// <summary>Serializes the agent_stream frame once (and the dedicated permission frame after it) for every session.</summary>
    private void PublishStream(JsonObject streamEvent, TimelineRow? row)
    {
        if (_observer is not null)
        {
            _observer.Tell(new InternalAgentEvent(_id, JsonSerializer.SerializeToElement(streamEvent)));
            return;
        }
        var type = WsInbound.Str(streamEvent, "type")!;
        var payload = new JsonObject
        {
            ["agentId"] = _id.Value,
            ["event"] = streamEvent,
            ["timestamp"] = IsoTime.Format(Now),
        };
        if (row is not null)
        {
            payload["seq"] = row.Seq;
            payload["epoch"] = _timeline.Epoch;
        }
        string? permissionFrame = type switch
        {
            "permission_requested" => WsOutbound.Session("agent_permission_request",
                new JsonObject { ["agentId"] = _id.Value, ["request"] = streamEvent["request"]!.DeepClone() }),
            "permission_resolved" => WsOutbound.Session("agent_permission_resolved",
                new JsonObject { ["agentId"] = _id.Value, ["requestId"] = streamEvent["requestId"]!.DeepClone(), ["resolution"] = streamEvent["resolution"]!.DeepClone() }),
            _ => null,
        };
        Context.System.EventStream.Publish(new AgentStreamEvent(_id, type, WsOutbound.Session("agent_stream", payload), permissionFrame));
    }

    private void Change(AgentRecord record)
    {
        _record = record;
        Save();
        Changed();
    }

    private void Changed()
    {
        if (_observer is not null) return;
        var snapshot = Snapshot();
        var upsert = WsOutbound.Session("agent_update", new JsonObject
        {
            ["kind"] = "upsert",
            ["agent"] = snapshot.ToJson(),
            ["project"] = Workspaces.DaemonWorkspaces.Get(Context.System).Current.PlacementFor(snapshot.Cwd),
        });
        Context.System.EventStream.Publish(new AgentChanged(snapshot, upsert));
    }

    private void Save()
    {
        if (_observer is null) _store.Tell(new AgentStoreProtocol.SaveRecord(_record));
    }

    private AgentSnapshot Snapshot()
    {
        var live = Live && _provider is not null;
        return new AgentSnapshot
        {
            Id = _record.Id,
            Provider = _record.Provider,
            Cwd = _record.Cwd,
            Model = _record.Model,
            ThinkingOptionId = _record.ThinkingOptionId,
            CreatedAt = _record.CreatedAt,
            UpdatedAt = _record.UpdatedAt,
            LastUserMessageAt = _record.LastUserMessageAt,
            Status = _phase is AgentPhase.Running or AgentPhase.Replacing ? AgentStatus.Running : _settled,
            Capabilities = live ? _provider!.Description.Capabilities : AgentCapabilities.Stored,
            CurrentModeId = _record.LastModeId,
            AvailableModes = live ? Modes : [],
            PendingPermissions = _pendingPermissions.Values.ToList(),
            Persistence = _provider is null ? null : _record.Persistence,
            RuntimeInfo = live ? _runtimeInfo : null,
            LastUsage = _lastUsage,
            LastError = _settled == AgentStatus.Error && _phase is not (AgentPhase.Running or AgentPhase.Replacing) ? _record.LastError : null,
            Title = _record.Title,
            Labels = _record.Labels,
            RequiresAttention = _record.RequiresAttention,
            AttentionReason = _record.AttentionReason,
            AttentionTimestamp = _record.AttentionTimestamp,
            ArchivedAt = _record.ArchivedAt,
            Live = live,
            ProviderUnavailable = _provider is null,
        };
    }
}
