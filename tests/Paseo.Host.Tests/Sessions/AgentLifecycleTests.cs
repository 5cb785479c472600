using System.Text.Json.Nodes;
using Paseo.Host.Tests.Support;

namespace Paseo.Host.Tests.Sessions;

/// <summary>Agents with the mock provider, driven over a real socket with raw JSON: create, stream, permissions, cancel, wait, archive, delete.</summary>
public sealed class AgentLifecycleTests : IAsyncLifetime
{
    private InProcessDaemon _daemon = null!;
    private ProtocolClient _client = null!;
    private string _cwd = null!;

    public async Task InitializeAsync()
    {
        // Every delta its own row here, so the tests can name rows; coalescing has its own test.
        _daemon = await InProcessDaemon.StartAsync(extraHocon: "paseo.agents.coalesce-stream-deltas = off\n");
        _cwd = _daemon.TestHome.PathIn("project");
        Directory.CreateDirectory(_cwd);
        (_client, _) = await ProtocolClient.ConnectWithHelloAsync(_daemon);
    }

    public async Task DisposeAsync()
    {
        await _client.DisposeAsync();
        await _daemon.DisposeAsync();
    }

    private async Task<JsonObject> CreateAsync(string? prompt, string? title = null, JsonObject? labels = null, string? modeId = null)
    {
        var config = new JsonObject { ["provider"] = "mock", ["cwd"] = _cwd };
        if (title is not null) config["title"] = title;
        if (modeId is not null) config["modeId"] = modeId;
        var fields = new JsonObject { ["config"] = config };
        if (prompt is not null) fields["initialPrompt"] = prompt;
        if (labels is not null) fields["labels"] = labels;
        var reply = ProtocolClient.Payload(await _client.RequestAsync("create_agent_request", fields), "status")!;
        Assert.Equal("agent_created", reply["status"]!.GetValue<string>());
        WireShapes.Snapshot(reply["agent"]);
        return reply;
    }

    private async Task<JsonObject> WaitAsync(string agentId, long? timeoutMs = null)
    {
        var fields = new JsonObject { ["agentId"] = agentId };
        if (timeoutMs is not null) fields["timeoutMs"] = timeoutMs;
        var payload = ProtocolClient.Payload(await _client.RequestAsync("wait_for_finish_request", fields), "wait_for_finish_response")!;
        Assert.Equal(new[] { "requestId", "status", "final", "error", "lastMessage" }, payload.Select(p => p.Key).ToArray());
        if (payload["final"] is not null) WireShapes.Snapshot(payload["final"]);
        return payload;
    }

    private async Task<JsonObject> TimelineAsync(string agentId, JsonObject? extra = null)
    {
        var fields = new JsonObject { ["agentId"] = agentId };
        if (extra is not null) foreach (var (k, v) in extra) fields[k] = v?.DeepClone();
        var payload = ProtocolClient.Payload(await _client.RequestAsync("fetch_agent_timeline_request", fields), "fetch_agent_timeline_response")!;
        Assert.Null(payload["error"]);
        foreach (var entry in payload["entries"]!.AsArray()) WireShapes.TimelineItem(entry!["item"]);
        return payload;
    }

    [Fact]
    public async Task Create_with_a_prompt_streams_the_turn_and_wait_reports_idle_with_the_last_message()
    {
        var created = await CreateAsync("hello [shell ls -la] [read README.md]", title: "First");
        var agentId = created["agentId"]!.GetValue<string>();
        Assert.Equal(agentId, created["agent"]!["id"]!.GetValue<string>());
        Assert.Equal("First", created["agent"]!["title"]!.GetValue<string>());

        var done = await WaitAsync(agentId);
        Assert.Equal("idle", done["status"]!.GetValue<string>());
        Assert.Null(done["error"]);
        Assert.Equal("Mock reply to: hello [shell ls -la] [read README.md]", done["lastMessage"]!.GetValue<string>());
        Assert.Equal("finished", done["final"]!["attentionReason"]!.GetValue<string>());

        var stream = _client.Received.Select(f => ProtocolClient.Payload(f, "agent_stream")).OfType<JsonObject>().Where(p => p["agentId"]!.GetValue<string>() == agentId).ToList();
        foreach (var payload in stream) WireShapes.StreamPayload(payload);
        var types = stream.Select(p => p["event"]!["type"]!.GetValue<string>()).ToList();
        Assert.Contains("turn_started", types);
        Assert.Equal("turn_completed", types.Last(t => t.StartsWith("turn_")));
        var seqs = stream.Where(p => p.ContainsKey("seq")).Select(p => p["seq"]!.GetValue<long>()).ToList();
        Assert.Equal(Enumerable.Range(1, seqs.Count).Select(i => (long)i), seqs);

        var canonical = await TimelineAsync(agentId, new JsonObject { ["projection"] = "canonical", ["limit"] = 0 });
        var items = canonical["entries"]!.AsArray().Select(e => e!["item"]!["type"]!.GetValue<string>()).ToList();
        Assert.Equal(["user_message", "reasoning", "tool_call", "tool_call", "tool_call", "tool_call", "assistant_message", "assistant_message", "assistant_message"], items);
        Assert.All(canonical["entries"]!.AsArray(), e => Assert.Empty(e!["collapsed"]!.AsArray()));

        var projected = await TimelineAsync(agentId);
        var entries = projected["entries"]!.AsArray();
        Assert.Equal(["user_message", "reasoning", "tool_call", "tool_call", "assistant_message"], entries.Select(e => e!["item"]!["type"]!.GetValue<string>()).ToList());
        var shell = entries[2]!;
        Assert.Equal("completed", shell["item"]!["status"]!.GetValue<string>());
        Assert.Equal("mock output of ls -la\n", shell["item"]!["detail"]!["output"]!.GetValue<string>());
        Assert.Equal(["tool_lifecycle"], shell["collapsed"]!.AsArray().Select(c => c!.GetValue<string>()));
        Assert.Equal((3L, 4L), (shell["seqStart"]!.GetValue<long>(), shell["seqEnd"]!.GetValue<long>()));
        var reply = entries[4]!;
        Assert.Equal("Mock reply to: hello [shell ls -la] [read README.md]", reply["item"]!["text"]!.GetValue<string>());
        Assert.Equal(["assistant_merge"], reply["collapsed"]!.AsArray().Select(c => c!.GetValue<string>()));
        Assert.Equal(new JsonArray(new JsonObject { ["startSeq"] = 7, ["endSeq"] = 9 }).ToJsonString(), reply["sourceSeqRanges"]!.ToJsonString());
        Assert.Equal(new JsonObject { ["minSeq"] = 1, ["maxSeq"] = 9, ["nextSeq"] = 10 }.ToJsonString(), projected["window"]!.ToJsonString());
    }

    [Fact]
    public async Task The_timeline_cursors_page_and_a_foreign_epoch_is_stale()
    {
        var agentId = (await CreateAsync("[chunks 5] paging"))["agentId"]!.GetValue<string>();
        await WaitAsync(agentId);

        var tail = await TimelineAsync(agentId, new JsonObject { ["projection"] = "canonical", ["limit"] = 2 });
        var epoch = tail["epoch"]!.GetValue<string>();
        Assert.Equal(2, tail["entries"]!.AsArray().Count);
        Assert.True(tail["hasOlder"]!.GetValue<bool>());
        Assert.False(tail["hasNewer"]!.GetValue<bool>());
        var start = tail["startCursor"]!["seq"]!.GetValue<long>();

        var before = await TimelineAsync(agentId, new JsonObject
        {
            ["projection"] = "canonical", ["direction"] = "before", ["limit"] = 2, ["cursor"] = new JsonObject { ["epoch"] = epoch, ["seq"] = start },
        });
        Assert.Equal(start - 1, before["endCursor"]!["seq"]!.GetValue<long>());

        var after = await TimelineAsync(agentId, new JsonObject { ["projection"] = "canonical", ["cursor"] = new JsonObject { ["epoch"] = epoch, ["seq"] = 1 } });
        Assert.Equal("after", after["direction"]!.GetValue<string>());
        Assert.Equal(2L, after["startCursor"]!["seq"]!.GetValue<long>());
        Assert.False(after["reset"]!.GetValue<bool>());

        var stale = await TimelineAsync(agentId, new JsonObject { ["cursor"] = new JsonObject { ["epoch"] = "another-epoch", ["seq"] = 3 } });
        Assert.True(stale["reset"]!.GetValue<bool>());
        Assert.True(stale["staleCursor"]!.GetValue<bool>());
        Assert.Equal(epoch, stale["epoch"]!.GetValue<string>());
    }

    [Theory]
    [InlineData("allow", "completed")]
    [InlineData("deny", "failed")]
    public async Task A_permission_request_waits_for_the_answer(string behavior, string toolStatus)
    {
        var agentId = (await CreateAsync("[permission rm -rf build]"))["agentId"]!.GetValue<string>();

        var request = ProtocolClient.Payload(await _client.ExpectSessionAsync("agent_permission_request"), "agent_permission_request")!;
        Assert.Equal(agentId, request["agentId"]!.GetValue<string>());
        WireShapes.PermissionRequest(request["request"]);
        var permissionId = request["request"]!["id"]!.GetValue<string>();

        var waiting = await WaitAsync(agentId);
        Assert.Equal("permission", waiting["status"]!.GetValue<string>());
        Assert.Equal(permissionId, waiting["final"]!["pendingPermissions"]![0]!["id"]!.GetValue<string>());
        Assert.Equal("permission", waiting["final"]!["attentionReason"]!.GetValue<string>());

        await _client.SendSessionAsync("agent_permission_response", new JsonObject
        {
            ["agentId"] = agentId, ["response"] = new JsonObject { ["behavior"] = behavior },
        }, requestId: permissionId);

        var resolved = ProtocolClient.Payload(await _client.ExpectSessionAsync("agent_permission_resolved"), "agent_permission_resolved")!;
        Assert.Equal(permissionId, resolved["requestId"]!.GetValue<string>());
        Assert.Equal(behavior, resolved["resolution"]!["behavior"]!.GetValue<string>());
        var done = await WaitAsync(agentId);
        Assert.Equal("idle", done["status"]!.GetValue<string>());
        Assert.Empty(done["final"]!["pendingPermissions"]!.AsArray());

        var projected = await TimelineAsync(agentId);
        var tool = projected["entries"]!.AsArray().Single(e => e!["item"]!["type"]!.GetValue<string>() == "tool_call")!;
        Assert.Equal(toolStatus, tool["item"]!["status"]!.GetValue<string>());
        // Every stream event of the flow (permission_requested/resolved, turn_*, attention) in the clients' shape.
        foreach (var payload in _client.Received.Select(f => ProtocolClient.Payload(f, "agent_stream")).OfType<JsonObject>()) WireShapes.StreamPayload(payload);
    }

    [Fact]
    public async Task An_answer_to_an_unknown_permission_is_an_rpc_error_under_the_permission_id()
    {
        var agentId = (await CreateAsync(null))["agentId"]!.GetValue<string>();
        await _client.SendSessionAsync("agent_permission_response", new JsonObject
        {
            ["agentId"] = agentId, ["response"] = new JsonObject { ["behavior"] = "allow" },
        }, requestId: "perm-nope");
        var error = ProtocolClient.Payload(await _client.ExpectSessionAsync("rpc_error", p => p["requestId"]!.GetValue<string>() == "perm-nope"), "rpc_error")!;
        Assert.Contains("No pending permission request perm-nope", error["error"]!.GetValue<string>());
    }

    [Fact]
    public async Task Cancel_interrupts_a_running_turn_and_wait_has_a_timeout()
    {
        var agentId = (await CreateAsync("[hang] a long task"))["agentId"]!.GetValue<string>();

        var timedOut = await WaitAsync(agentId, timeoutMs: 200);
        Assert.Equal("timeout", timedOut["status"]!.GetValue<string>());
        Assert.Equal("running", timedOut["final"]!["status"]!.GetValue<string>());

        var cancel = ProtocolClient.Payload(await _client.RequestAsync("cancel_agent_request", new JsonObject { ["agentId"] = agentId }), "cancel_agent_response")!;
        Assert.Equal("idle", cancel["agent"]!["status"]!.GetValue<string>());
        var canceled = await _client.ExpectSessionAsync("agent_stream", p => p["event"]!["type"]!.GetValue<string>() == "turn_canceled");
        Assert.Equal("Interrupted", ProtocolClient.Payload(canceled, "agent_stream")!["event"]!["reason"]!.GetValue<string>());
    }

    [Fact]
    public async Task A_failed_turn_is_an_error_and_the_next_prompt_runs_again()
    {
        var agentId = (await CreateAsync("[fail]"))["agentId"]!.GetValue<string>();
        var failed = await WaitAsync(agentId);
        Assert.Equal("error", failed["status"]!.GetValue<string>());
        Assert.Equal("Mock failure requested", failed["error"]!.GetValue<string>());
        Assert.Equal("Mock failure requested", failed["final"]!["lastError"]!.GetValue<string>());

        var send = ProtocolClient.Payload(await _client.RequestAsync("send_agent_message_request", new JsonObject { ["agentId"] = agentId[..8], ["text"] = "again", ["messageId"] = "m-2" }), "send_agent_message_response")!;
        Assert.Equal(new JsonObject { ["requestId"] = send["requestId"]!.GetValue<string>(), ["agentId"] = agentId, ["accepted"] = true, ["error"] = null }.ToJsonString(), send.ToJsonString());
        var done = await WaitAsync(agentId);
        Assert.Equal("idle", done["status"]!.GetValue<string>());
        Assert.False(done["final"]!.AsObject().ContainsKey("lastError"));
    }

    [Fact]
    public async Task Agents_are_found_by_id_prefix_or_title_and_unknown_ones_get_paseos_errors()
    {
        var agentId = (await CreateAsync(null, title: "Reviewer"))["agentId"]!.GetValue<string>();
        foreach (var identifier in new[] { agentId, agentId[..6], "Reviewer" })
        {
            var found = ProtocolClient.Payload(await _client.RequestAsync("fetch_agent_request", new JsonObject { ["agentId"] = identifier }), "fetch_agent_response")!;
            Assert.Equal(agentId, found["agent"]!["id"]!.GetValue<string>());
            Assert.Null(found["error"]);
            WireShapes.Placement(found["project"]);
        }
        var missing = ProtocolClient.Payload(await _client.RequestAsync("fetch_agent_request", new JsonObject { ["agentId"] = "nope" }), "fetch_agent_response")!;
        Assert.Equal(new JsonObject { ["requestId"] = missing["requestId"]!.GetValue<string>(), ["agent"] = null, ["project"] = null, ["error"] = "Agent not found: nope" }.ToJsonString(), missing.ToJsonString());
        var send = ProtocolClient.Payload(await _client.RequestAsync("send_agent_message_request", new JsonObject { ["agentId"] = "nope", ["text"] = "x" }), "send_agent_message_response")!;
        Assert.False(send["accepted"]!.GetValue<bool>());
        Assert.Equal("Agent not found: nope", send["error"]!.GetValue<string>());
        var wait = await WaitAsync("nope");
        Assert.Equal("error", wait["status"]!.GetValue<string>());
        Assert.Null(wait["final"]);
    }

    [Fact]
    public async Task Images_that_are_not_base64_or_of_an_unsupported_type_are_refused_with_why_and_nothing_is_sent()
    {
        var created = ProtocolClient.Payload(await _client.RequestAsync("create_agent_request", new JsonObject
        {
            ["config"] = new JsonObject { ["provider"] = "mock", ["cwd"] = _cwd },
            ["initialPrompt"] = "hi",
            ["images"] = new JsonArray(new JsonObject { ["data"] = "iVBORw0KGgo=", ["mimeType"] = "image/tiff" }),
        }), "status")!;
        Assert.Equal(("agent_create_failed", "images[].mimeType image/tiff is not supported (image/png, image/jpeg, image/gif, image/webp)"),
            (created["status"]!.GetValue<string>(), created["error"]!.GetValue<string>()));

        var agentId = (await CreateAsync("first"))["agentId"]!.GetValue<string>();
        await WaitAsync(agentId);
        var send = ProtocolClient.Payload(await _client.RequestAsync("send_agent_message_request", new JsonObject
        {
            ["agentId"] = agentId, ["text"] = "look at this", ["images"] = new JsonArray(new JsonObject { ["data"] = "not base64!", ["mimeType"] = "image/png" }),
        }), "send_agent_message_response")!;
        Assert.Equal((false, "images[].data must be base64"), (send["accepted"]!.GetValue<bool>(), send["error"]!.GetValue<string>()));
        Assert.DoesNotContain((await TimelineAsync(agentId))["entries"]!.AsArray(), e => e!["item"]?["text"]?.GetValue<string>() == "look at this");

        var ok = ProtocolClient.Payload(await _client.RequestAsync("send_agent_message_request", new JsonObject
        {
            ["agentId"] = agentId, ["text"] = "and this", ["images"] = new JsonArray(new JsonObject { ["data"] = "iVBORw0KGgo=", ["mimeType"] = "image/png" }),
        }), "send_agent_message_response")!;
        Assert.True(ok["accepted"]!.GetValue<bool>());
    }

    [Fact]
    public async Task Create_refuses_an_unknown_provider_and_a_missing_directory()
    {
        var unknown = ProtocolClient.Payload(await _client.RequestAsync("create_agent_request", new JsonObject
        {
            ["config"] = new JsonObject { ["provider"] = "nonesuch", ["cwd"] = _cwd },
        }), "status")!;
        Assert.Equal("agent_create_failed", unknown["status"]!.GetValue<string>());
        Assert.Equal("Unknown provider: nonesuch", unknown["error"]!.GetValue<string>());
        Assert.False(unknown.ContainsKey("errorCode"));

        var missing = ProtocolClient.Payload(await _client.RequestAsync("create_agent_request", new JsonObject
        {
            ["config"] = new JsonObject { ["provider"] = "mock", ["cwd"] = "/definitely/not/here" },
        }), "status")!;
        Assert.Contains("does not exist", missing["error"]!.GetValue<string>());
    }

    [Fact]
    public async Task Archive_hides_the_agent_from_lists_and_delete_removes_it()
    {
        var agentId = (await CreateAsync(null, labels: new JsonObject { ["team"] = "infra" }))["agentId"]!.GetValue<string>();
        var archived = ProtocolClient.Payload(await _client.RequestAsync("archive_agent_request", new JsonObject { ["agentId"] = agentId }), "agent_archived")!;
        Assert.Equal(new[] { "agentId", "archivedAt", "requestId" }, archived.Select(p => p.Key).ToArray());

        var active = ProtocolClient.Payload(await _client.RequestAsync("fetch_agents_request", new JsonObject { ["scope"] = "active" }), "fetch_agents_response")!;
        Assert.DoesNotContain(active["entries"]!.AsArray(), e => e!["agent"]!["id"]!.GetValue<string>() == agentId);
        var all = ProtocolClient.Payload(await _client.RequestAsync("fetch_agents_request", new JsonObject
        {
            ["filter"] = new JsonObject { ["includeArchived"] = true, ["labels"] = new JsonObject { ["team"] = "infra" } },
        }), "fetch_agents_response")!;
        var entry = Assert.Single(all["entries"]!.AsArray())!;
        WireShapes.Snapshot(entry["agent"]);
        WireShapes.Placement(entry["project"]);
        Assert.Equal(archived["archivedAt"]!.GetValue<string>(), entry["agent"]!["archivedAt"]!.GetValue<string>());
        Assert.Equal(new JsonObject { ["nextCursor"] = null, ["prevCursor"] = null, ["hasMore"] = false }.ToJsonString(), all["pageInfo"]!.ToJsonString());

        var deleted = ProtocolClient.Payload(await _client.RequestAsync("delete_agent_request", new JsonObject { ["agentId"] = agentId }), "agent_deleted")!;
        Assert.Equal(agentId, deleted["agentId"]!.GetValue<string>());
        var gone = ProtocolClient.Payload(await _client.RequestAsync("fetch_agent_request", new JsonObject { ["agentId"] = agentId }), "fetch_agent_response")!;
        Assert.Equal($"Agent not found: {agentId}", gone["error"]!.GetValue<string>());
        Assert.Empty(Directory.EnumerateFiles(_daemon.TestHome.Home.AgentsDir, agentId + "*", SearchOption.AllDirectories));
    }

    [Fact]
    public async Task Fetch_agents_pages_and_a_subscription_pushes_agent_updates()
    {
        for (var i = 0; i < 3; i++) await CreateAsync(null, title: $"agent {i}");
        var first = ProtocolClient.Payload(await _client.RequestAsync("fetch_agents_request", new JsonObject
        {
            ["sort"] = new JsonArray(new JsonObject { ["key"] = "title", ["direction"] = "asc" }),
            ["page"] = new JsonObject { ["limit"] = 2 },
            ["subscribe"] = new JsonObject { ["subscriptionId"] = "sub-1" },
        }), "fetch_agents_response")!;
        Assert.Equal("sub-1", first["subscriptionId"]!.GetValue<string>());
        Assert.Equal(["agent 0", "agent 1"], first["entries"]!.AsArray().Select(e => e!["agent"]!["title"]!.GetValue<string>()));
        Assert.True(first["pageInfo"]!["hasMore"]!.GetValue<bool>());

        var second = ProtocolClient.Payload(await _client.RequestAsync("fetch_agents_request", new JsonObject
        {
            ["sort"] = new JsonArray(new JsonObject { ["key"] = "title", ["direction"] = "asc" }),
            ["page"] = new JsonObject { ["limit"] = 2, ["cursor"] = first["pageInfo"]!["nextCursor"]!.GetValue<string>() },
        }), "fetch_agents_response")!;
        Assert.Equal(["agent 2"], second["entries"]!.AsArray().Select(e => e!["agent"]!["title"]!.GetValue<string>()));
        Assert.False(second["pageInfo"]!["hasMore"]!.GetValue<bool>());

        var bad = ProtocolClient.Payload(await _client.RequestAsync("fetch_agents_request", new JsonObject { ["page"] = new JsonObject { ["limit"] = 2, ["cursor"] = "garbage" } }), "rpc_error")!;
        Assert.Equal("invalid_cursor", bad["code"]!.GetValue<string>());

        var agentId = first["entries"]![0]!["agent"]!["id"]!.GetValue<string>();
        var update = ProtocolClient.Payload(await _client.RequestAsync("update_agent_request", new JsonObject { ["agentId"] = agentId, ["name"] = "renamed" }), "update_agent_response")!;
        Assert.True(update["accepted"]!.GetValue<bool>());
        var pushed = ProtocolClient.Payload(await _client.ExpectSessionAsync("agent_update", p => p["agent"]?["title"]?.GetValue<string>() == "renamed"), "agent_update")!;
        Assert.Equal("upsert", pushed["kind"]!.GetValue<string>());
        WireShapes.Snapshot(pushed["agent"]);
        WireShapes.Placement(pushed["project"]);

        var nothing = ProtocolClient.Payload(await _client.RequestAsync("update_agent_request", new JsonObject { ["agentId"] = agentId, ["name"] = "  " }), "update_agent_response")!;
        Assert.Equal("Nothing to update (provide name and/or labels)", nothing["error"]!.GetValue<string>());
    }

    [Fact]
    public async Task Modes_and_providers_are_reported_and_bypass_skips_the_permission()
    {
        var providers = ProtocolClient.Payload(await _client.RequestAsync("get_providers_snapshot_request"), "get_providers_snapshot_response")!;
        var mock = providers["entries"]!.AsArray().Single(e => e!["provider"]!.GetValue<string>() == "mock")!;
        Assert.Equal("ready", mock["status"]!.GetValue<string>());
        Assert.All(mock["models"]!.AsArray(), m => Assert.Equal("mock", m!["provider"]!.GetValue<string>()));

        var models = ProtocolClient.Payload(await _client.RequestAsync("list_provider_models_request", new JsonObject { ["provider"] = "mock" }), "list_provider_models_response")!;
        Assert.Null(models["error"]);
        Assert.True(models.ContainsKey("fetchedAt"));
        var unknown = ProtocolClient.Payload(await _client.RequestAsync("list_provider_models_request", new JsonObject { ["provider"] = "x" }), "list_provider_models_response")!;
        Assert.False(unknown.ContainsKey("models"));
        Assert.Equal("Unknown provider: x", unknown["error"]!.GetValue<string>());

        var agentId = (await CreateAsync(null))["agentId"]!.GetValue<string>();
        var badMode = ProtocolClient.Payload(await _client.RequestAsync("set_agent_mode_request", new JsonObject { ["agentId"] = agentId, ["modeId"] = "yolo" }), "set_agent_mode_response")!;
        Assert.False(badMode["accepted"]!.GetValue<bool>());
        var mode = ProtocolClient.Payload(await _client.RequestAsync("set_agent_mode_request", new JsonObject { ["agentId"] = agentId, ["modeId"] = "bypassPermissions" }), "set_agent_mode_response")!;
        Assert.True(mode["accepted"]!.GetValue<bool>());

        await _client.RequestAsync("send_agent_message_request", new JsonObject { ["agentId"] = agentId, ["text"] = "[permission make]" });
        var done = await WaitAsync(agentId);
        Assert.Equal("idle", done["status"]!.GetValue<string>());
        Assert.Equal("bypassPermissions", done["final"]!["currentModeId"]!.GetValue<string>());
    }

    [Fact]
    public async Task Two_clients_see_the_same_stream_and_a_late_one_catches_up_from_its_cursor()
    {
        var (second, _) = await ProtocolClient.ConnectWithHelloAsync(_daemon);
        await using var _ = second;
        var agentId = (await CreateAsync("first turn"))["agentId"]!.GetValue<string>();
        await WaitAsync(agentId);
        await second.ExpectSessionAsync("agent_stream", p => p["agentId"]!.GetValue<string>() == agentId && p["event"]!["type"]!.GetValue<string>() == "turn_completed");

        string Stream(ProtocolClient c) => string.Join("\n", c.Received.Select(f => ProtocolClient.Payload(f, "agent_stream"))
            .OfType<JsonObject>().Where(p => p["agentId"]!.GetValue<string>() == agentId && p.ContainsKey("seq"))
            .Select(p => p["seq"] + ":" + p["event"]!["item"]!.ToJsonString()));
        Assert.Equal(Stream(_client), Stream(second));

        var cursor = (await TimelineAsync(agentId, new JsonObject { ["projection"] = "canonical", ["limit"] = 0 }))["endCursor"]!.DeepClone();
        await _client.RequestAsync("send_agent_message_request", new JsonObject { ["agentId"] = agentId, ["text"] = "second turn" });
        await WaitAsync(agentId);

        var (late, _) = await ProtocolClient.ConnectWithHelloAsync(_daemon);
        await using var __ = late;
        var catchUp = ProtocolClient.Payload(await late.RequestAsync("fetch_agent_timeline_request", new JsonObject
        {
            ["agentId"] = agentId, ["cursor"] = cursor, ["projection"] = "canonical",
        }), "fetch_agent_timeline_response")!;
        var items = catchUp["entries"]!.AsArray().Select(e => e!["item"]!).ToList();
        Assert.Equal("second turn", items[0]["text"]!.GetValue<string>());
        Assert.Equal(cursor["seq"]!.GetValue<long>() + 1, catchUp["startCursor"]!["seq"]!.GetValue<long>());
        Assert.False(catchUp["hasNewer"]!.GetValue<bool>());
    }

    [Fact]
    public async Task A_crashing_provider_fails_only_its_agent()
    {
        var healthy = (await CreateAsync(null, title: "healthy"))["agentId"]!.GetValue<string>();
        var crashing = (await CreateAsync("[crash]"))["agentId"]!.GetValue<string>();

        var failed = await WaitAsync(crashing);
        Assert.Equal("error", failed["status"]!.GetValue<string>());
        Assert.Equal("The provider session stopped unexpectedly", failed["error"]!.GetValue<string>());

        await _client.RequestAsync("send_agent_message_request", new JsonObject { ["agentId"] = healthy, ["text"] = "still fine?" });
        Assert.Equal("idle", (await WaitAsync(healthy))["status"]!.GetValue<string>());
        // The crashed agent takes a new prompt with a fresh provider session.
        await _client.RequestAsync("send_agent_message_request", new JsonObject { ["agentId"] = crashing, ["text"] = "recover" });
        Assert.Equal("idle", (await WaitAsync(crashing))["status"]!.GetValue<string>());
    }

    [Fact]
    public async Task The_number_of_agents_is_bounded()
    {
        await using var small = await InProcessDaemon.StartAsync(extraHocon: "paseo.agents.max-agents = 1\n");
        var (client, _) = await ProtocolClient.ConnectWithHelloAsync(small);
        await using var _ = client;
        var config = new JsonObject { ["provider"] = "mock", ["cwd"] = _cwd };
        var first = ProtocolClient.Payload(await client.RequestAsync("create_agent_request", new JsonObject { ["config"] = config.DeepClone() }), "status")!;
        Assert.Equal("agent_created", first["status"]!.GetValue<string>());
        var second = ProtocolClient.Payload(await client.RequestAsync("create_agent_request", new JsonObject { ["config"] = config.DeepClone() }), "status")!;
        Assert.Equal("agent_create_failed", second["status"]!.GetValue<string>());
        Assert.Contains("paseo.agents.max-agents", second["error"]!.GetValue<string>());
    }

    [Fact]
    public async Task A_mobile_client_gets_only_its_focused_agents_stream()
    {
        var (mobile, _) = await ProtocolClient.ConnectWithHelloAsync(_daemon);
        await using var _ = mobile;
        var focused = (await CreateAsync(null, title: "focused"))["agentId"]!.GetValue<string>();
        var other = (await CreateAsync(null, title: "other"))["agentId"]!.GetValue<string>();
        await mobile.SendAsync(new JsonObject
        {
            ["type"] = "session",
            ["message"] = new JsonObject
            {
                ["type"] = "client_heartbeat", ["deviceType"] = "mobile", ["focusedAgentId"] = focused,
                ["lastActivityAt"] = "2026-11-26T09:00:00.000Z", ["appVisible"] = true,
            },
        });
        // The heartbeat has no reply: a ping after it shows it was handled.
        var pong = await mobile.RequestAsync("ping");
        var afterHeartbeat = mobile.Received.IndexOf(pong);

        await _client.RequestAsync("send_agent_message_request", new JsonObject { ["agentId"] = other, ["text"] = "not for the phone" });
        await WaitAsync(other);
        await _client.RequestAsync("send_agent_message_request", new JsonObject { ["agentId"] = focused, ["text"] = "for the phone" });
        await WaitAsync(focused);
        await mobile.ExpectSessionAsync("agent_stream", p => p["agentId"]!.GetValue<string>() == focused && p["event"]!["type"]!.GetValue<string>() == "turn_completed");

        var streamed = mobile.Received.Skip(afterHeartbeat).Select(f => ProtocolClient.Payload(f, "agent_stream")).OfType<JsonObject>().Select(p => p["agentId"]!.GetValue<string>()).Distinct();
        Assert.Equal([focused], streamed);
    }

    [Fact]
    public async Task Two_sockets_with_one_client_id_share_a_session()
    {
        var clientId = "cid_shared_" + Guid.NewGuid().ToString("N");
        var (first, firstInfo) = await ProtocolClient.ConnectWithHelloAsync(_daemon, clientId);
        var (second, secondInfo) = await ProtocolClient.ConnectWithHelloAsync(_daemon, clientId);
        await using var _ = first;
        await using var __ = second;
        Assert.Equal(firstInfo["serverId"]!.ToJsonString(), secondInfo["serverId"]!.ToJsonString());

        // A reply of the session reaches both of its sockets.
        var requestId = await first.SendSessionAsync("ping");
        await first.ExpectSessionAsync("pong", p => p["requestId"]!.GetValue<string>() == requestId);
        await second.ExpectSessionAsync("pong", p => p["requestId"]!.GetValue<string>() == requestId);
    }

    [Fact]
    public async Task With_coalescing_on_a_fast_stream_of_deltas_becomes_few_rows_and_loses_no_text()
    {
        await using var daemon = await InProcessDaemon.StartAsync();
        var (client, _) = await ProtocolClient.ConnectWithHelloAsync(daemon);
        await using var _ = client;
        var agentId = ProtocolClient.Payload(await client.RequestAsync("create_agent_request", new JsonObject
        {
            ["config"] = new JsonObject { ["provider"] = "mock", ["cwd"] = _cwd },
            ["initialPrompt"] = "[stream 2000 1] [chunks 500] fast",
        }), "status")!["agentId"]!.GetValue<string>();
        await client.RequestAsync("wait_for_finish_request", new JsonObject { ["agentId"] = agentId });

        var canonical = ProtocolClient.Payload(await client.RequestAsync("fetch_agent_timeline_request", new JsonObject
        {
            ["agentId"] = agentId, ["projection"] = "canonical", ["limit"] = 0,
        }), "fetch_agent_timeline_response")!["entries"]!.AsArray();
        var assistant = canonical.Where(e => e!["item"]!["type"]!.GetValue<string>() == "assistant_message").ToList();
        var text = string.Concat(assistant.Select(e => e!["item"]!["text"]!.GetValue<string>()));
        // 2 000 timestamped deltas and the 500-chunk reply: all the text, in far fewer rows than deltas.
        Assert.Equal(2000, text.Split("t=").Length - 1);
        Assert.EndsWith("Mock reply to: [stream 2000 1] [chunks 500] fast" + new string('.', 500 - "Mock reply to: [stream 2000 1] [chunks 500] fast".Length), text);
        Assert.InRange(assistant.Count, 2, 400);
    }

    [Fact]
    public async Task Attention_is_set_when_a_turn_ends_and_cleared_on_request()
    {
        var first = (await CreateAsync("one"))["agentId"]!.GetValue<string>();
        var second = (await CreateAsync("two"))["agentId"]!.GetValue<string>();
        Assert.True((await WaitAsync(first))["final"]!["requiresAttention"]!.GetValue<bool>());
        await WaitAsync(second);

        var cleared = ProtocolClient.Payload(await _client.RequestAsync("clear_agent_attention", new JsonObject
        {
            ["agentId"] = new JsonArray(first, second),
        }), "clear_agent_attention_response")!;
        Assert.Equal(new JsonArray(first, second).ToJsonString(), cleared["agentId"]!.ToJsonString());
        var agents = cleared["agents"]!.AsArray();
        Assert.Equal(2, agents.Count);
        foreach (var agent in agents)
        {
            WireShapes.Snapshot(agent);
            Assert.False(agent!["requiresAttention"]!.GetValue<bool>());
            Assert.Null(agent["attentionReason"]);
        }
        var attention = ProtocolClient.Payload(await _client.RequestAsync("fetch_agents_request", new JsonObject
        {
            ["filter"] = new JsonObject { ["requiresAttention"] = true },
        }), "fetch_agents_response")!;
        Assert.Empty(attention["entries"]!.AsArray());
    }

    [Fact]
    public async Task A_malformed_permission_answer_is_refused_and_the_request_stays_pending()
    {
        var agentId = (await CreateAsync("[permission rm -rf build]"))["agentId"]!.GetValue<string>();
        var request = ProtocolClient.Payload(await _client.ExpectSessionAsync("agent_permission_request"), "agent_permission_request")!;
        var permissionId = request["request"]!["id"]!.GetValue<string>();

        await _client.SendSessionAsync("agent_permission_response", new JsonObject
        {
            ["agentId"] = agentId, ["response"] = new JsonObject { ["behavior"] = "allow", ["updatedInput"] = "not an object" },
        }, requestId: permissionId);

        var error = ProtocolClient.Payload(await _client.ExpectSessionAsync("rpc_error", p => p["requestId"]!.GetValue<string>() == permissionId), "rpc_error")!;
        Assert.Equal("unknown_schema", error["code"]!.GetValue<string>());
        Assert.Equal("permission", (await WaitAsync(agentId))["status"]!.GetValue<string>());
    }

    [Fact]
    public async Task A_subscriber_hears_of_an_agent_created_without_a_prompt_and_of_its_deletion()
    {
        var (watcher, _) = await ProtocolClient.ConnectWithHelloAsync(_daemon);
        await using var _ = watcher;
        await watcher.RequestAsync("fetch_agents_request", new JsonObject { ["subscribe"] = new JsonObject() });

        var agentId = (await CreateAsync(null, title: "quiet"))["agentId"]!.GetValue<string>();
        var upsert = ProtocolClient.Payload(await watcher.ExpectSessionAsync("agent_update", p => p["agent"]?["id"]?.GetValue<string>() == agentId), "agent_update")!;
        Assert.Equal("upsert", upsert["kind"]!.GetValue<string>());

        await _client.RequestAsync("delete_agent_request", new JsonObject { ["agentId"] = agentId });
        var remove = ProtocolClient.Payload(await watcher.ExpectSessionAsync("agent_update", p => p["kind"]!.GetValue<string>() == "remove"), "agent_update")!;
        Assert.Equal(agentId, remove["agentId"]!.GetValue<string>());
    }
}
