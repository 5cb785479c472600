using System.Text.Json.Nodes;
using Paseo.Host.Tests.Support;
using Paseo.Transport.Protocol;
using static Paseo.Host.Tests.Support.TerminalSupport;

namespace Paseo.Host.Tests.Terminals;

/// <summary>Real shells in the daemon's tmux, streamed over real sockets (app-workspaces.md §5).</summary>
public sealed class TerminalStreamTests : IAsyncLifetime
{
    private InProcessDaemon _daemon = null!;
    private ProtocolClient _client = null!;
    private string _cwd = null!;

    public async Task InitializeAsync()
    {
        _daemon = await InProcessDaemon.StartAsync();
        _cwd = _daemon.TestHome.PathIn("shop");
        Directory.CreateDirectory(_cwd);
        (_client, _) = await ProtocolClient.ConnectWithHelloAsync(_daemon, clientType: "mobile");
    }

    public async Task DisposeAsync()
    {
        await _client.DisposeAsync();
        await _daemon.DisposeAsync();
    }

    [SkippableFact]
    public async Task A_shell_answers_typed_input_in_output_frames_and_resizes()
    {
        Require();
        var terminal = await CreateAsync(_client, _cwd);
        Assert.Equal("Terminal 1", terminal["name"]!.GetValue<string>());
        Assert.Equal(_cwd, terminal["cwd"]!.GetValue<string>());
        var (slot, snapshot) = await SubscribeAsync(_client, terminal["id"]!.GetValue<string>());
        Assert.Equal((24, 80), (snapshot["rows"]!.GetValue<int>(), snapshot["cols"]!.GetValue<int>()));

        await TypeAsync(_client, slot, "echo $((6*7))\r");
        Assert.Contains("42\r\n", await OutputUntilAsync(_client.NextBinaryAsync, slot, "42\r\n"));

        await ResizeAsync(_client, slot, 40, 120);
        await TypeAsync(_client, slot, "stty size\r");
        await OutputUntilAsync(_client.NextBinaryAsync, slot, "40 120");
    }

    [SkippableFact]
    public async Task A_snapshot_holds_the_cells_colours_and_cursor_of_the_screen()
    {
        Require();
        var id = (await CreateAsync(_client, _cwd))["id"]!.GetValue<string>();
        var (slot, _) = await SubscribeAsync(_client, id);
        await TypeAsync(_client, slot, "printf '\\033[31;1mRED\\033[0m \\033[38;5;208mO\\033[38;2;1;2;3mX\\033[0m \\033[4;44mU\\033[0m中x\\n'\r");
        await OutputUntilAsync(_client.NextBinaryAsync, slot, "中x\r\n");
        // Subscribing again keeps the slot and sends a new snapshot after the reply.
        var (again, state) = await SubscribeAsync(_client, id);
        Assert.Equal(slot, again);

        var rows = state["grid"]!.AsArray();
        Assert.Equal(24, rows.Count);
        Assert.All(rows, r => Assert.Equal(80, r!.AsArray().Count));
        string[] allowed = ["char", "fg", "bg", "fgMode", "bgMode", "bold", "italic", "underline", "dim", "inverse", "strikethrough"];
        Assert.All(rows.SelectMany(r => r!.AsArray()), c => Assert.All(c!.AsObject(), p => Assert.Contains(p.Key, allowed)));
        var line = rows.Select(r => r!.AsArray()).Single(r => RowText(r).StartsWith("RED O"));
        Assert.Equal((1, 1, true), (line[0]!["fg"]!.GetValue<int>(), line[0]!["fgMode"]!.GetValue<int>(), line[0]!["bold"]!.GetValue<bool>()));
        Assert.False(line[3]!.AsObject().ContainsKey("fg")); // the space after the reset is default
        Assert.Equal((208, 2), (line[4]!["fg"]!.GetValue<int>(), line[4]!["fgMode"]!.GetValue<int>()));
        Assert.Equal((0x010203, 3), (line[5]!["fg"]!.GetValue<int>(), line[5]!["fgMode"]!.GetValue<int>()));
        Assert.Equal((4, 1, true), (line[7]!["bg"]!.GetValue<int>(), line[7]!["bgMode"]!.GetValue<int>(), line[7]!["underline"]!.GetValue<bool>()));
        // A wide character takes two cells, the second empty.
        Assert.Equal(("中", "", "x"), (line[8]!["char"]!.GetValue<string>(), line[9]!["char"]!.GetValue<string>(), line[10]!["char"]!.GetValue<string>()));

        // The cursor sits after the prompt on the last line written.
        var cursor = state["cursor"]!.AsObject();
        var prompt = RowText(rows[cursor["row"]!.GetValue<int>()]!).TrimEnd();
        Assert.True(prompt is "$" or "#", $"cursor row shows '{prompt}'");
        Assert.Equal(2, cursor["col"]!.GetValue<int>());
        Assert.Equal(new[] { "row", "col" }, cursor.Select(p => p.Key).ToArray());
    }

    [SkippableFact]
    public async Task A_large_output_arrives_whole_and_in_order()
    {
        Require();
        var file = _daemon.TestHome.PathIn("big.txt");
        await File.WriteAllLinesAsync(file, Enumerable.Range(0, 40_000).Select(i => $"line {i:D6}"));
        var (slot, _) = await SubscribeAsync(_client, (await CreateAsync(_client, _cwd))["id"]!.GetValue<string>());
        await TypeAsync(_client, slot, "stty -echo; echo READY-$((1+1))\r");
        await OutputUntilAsync(_client.NextBinaryAsync, slot, "READY-2");
        await TypeAsync(_client, slot, $"cat {file}; echo __done__\r");
        var text = await OutputUntilAsync(_client.NextBinaryAsync, slot, "__done__\r\n");
        // Each line where it is (the prompt may share a frame with the first one).
        var numbers = System.Text.RegularExpressions.Regex.Matches(text, @"line (\d{6})\r\n").Select(m => int.Parse(m.Groups[1].Value)).ToList();
        Assert.Equal(Enumerable.Range(0, 40_000), numbers);
    }

    [SkippableFact]
    public async Task A_terminal_whose_tmux_client_is_detached_is_attached_again_with_a_new_snapshot()
    {
        Require();
        var id = (await CreateAsync(_client, _cwd))["id"]!.GetValue<string>();
        var (slot, _) = await SubscribeAsync(_client, id);
        // Someone detaches the daemon's control client (as tmux does with a client too far behind): the terminal lives on.
        Assert.NotNull(Tmux(Path.Combine(_daemon.TestHome.Home.TerminalsDir, "tmux.sock"), "detach-client", "-s", "=" + id));
        while (true)
        {
            var frame = await _client.NextBinaryAsync();
            if (frame[0] == BinaryFrames.Snapshot && frame[1] == slot) break; // the stream starts again from a snapshot
        }
        await TypeAsync(_client, slot, "echo back-$((3*3))\r");
        await OutputUntilAsync(_client.NextBinaryAsync, slot, "back-9");
        var listed = ProtocolClient.Payload(await _client.RequestAsync("list_terminals_request"), "list_terminals_response")!["terminals"]!.AsArray();
        Assert.Contains(listed, t => t!["id"]!.GetValue<string>() == id);
    }

    [SkippableFact]
    public async Task Two_clients_on_one_terminal_both_see_its_output()
    {
        Require();
        var id = (await CreateAsync(_client, _cwd))["id"]!.GetValue<string>();
        var (other, _) = await ProtocolClient.ConnectWithHelloAsync(_daemon, clientId: "second-phone", clientType: "mobile");
        await using var _ = other;
        var (slot, _) = await SubscribeAsync(_client, id);
        var (otherSlot, _) = await SubscribeAsync(other, id);
        await TypeAsync(_client, slot, "echo shared-$((2+3))\r");
        await OutputUntilAsync(_client.NextBinaryAsync, slot, "shared-5");
        await OutputUntilAsync(other.NextBinaryAsync, otherSlot, "shared-5");
    }

    [SkippableFact]
    public async Task Killing_a_terminal_ends_its_stream_frees_the_slot_and_tells_the_directory()
    {
        Require();
        await _client.SendSessionAsync("subscribe_terminals_request", new JsonObject { ["cwd"] = _cwd }, requestId: null);
        await _client.ExpectSessionAsync("terminals_changed", p => p["cwd"]!.GetValue<string>() == _cwd && p["terminals"]!.AsArray().Count == 0);
        var terminal = await CreateAsync(_client, _cwd, name: "server");
        var id = terminal["id"]!.GetValue<string>();
        await _client.ExpectSessionAsync("terminals_changed", p => p["terminals"]!.AsArray().Any(t => t!["id"]!.GetValue<string>() == id && t["name"]!.GetValue<string>() == "server"));
        var (slot, _) = await SubscribeAsync(_client, id);

        var killed = ProtocolClient.Payload(await _client.RequestAsync("kill_terminal_request", new JsonObject { ["terminalId"] = id }), "kill_terminal_response")!;
        Assert.True(killed["success"]!.GetValue<bool>());
        await _client.ExpectSessionAsync("terminal_stream_exit", p => p["terminalId"]!.GetValue<string>() == id);
        await _client.ExpectSessionAsync("terminals_changed", p => p["terminals"]!.AsArray().Count == 0);
        var listed = ProtocolClient.Payload(await _client.RequestAsync("list_terminals_request", new JsonObject { ["cwd"] = _cwd }), "list_terminals_response")!;
        Assert.Empty(listed["terminals"]!.AsArray());
        Assert.Equal(_cwd, listed["cwd"]!.GetValue<string>());

        // The slot is free again; frames for it now are ignored, and a subscribe to the dead terminal is refused.
        await TypeAsync(_client, slot, "echo nobody\r");
        var refused = ProtocolClient.Payload(await _client.RequestAsync("subscribe_terminal_request", new JsonObject { ["terminalId"] = id }), "subscribe_terminal_response")!;
        Assert.Equal("Terminal not found", refused["error"]!.GetValue<string>());
        Assert.False(refused.ContainsKey("slot"));
        var capture = ProtocolClient.Payload(await _client.RequestAsync("capture_terminal_request", new JsonObject { ["terminalId"] = id }), "capture_terminal_response")!;
        Assert.Equal(0, capture["totalLines"]!.GetValue<int>());
    }

    [SkippableFact]
    public async Task Command_terminals_capture_close_items_and_the_specs_errors()
    {
        Require();
        var terminal = await CreateAsync(_client, _cwd, null, "sh", "-c", "printf 'one\\ntwo\\nthree\\n'; exec sleep 1000");
        var id = terminal["id"]!.GetValue<string>();
        Assert.Equal("sh -c \"printf 'one\\ntwo\\nthree\\n'; exec sleep 1000\"", terminal["title"]!.GetValue<string>());
        await Eventually.HoldsAsync(async () => (await Capture(id, null, null))["lines"]!.AsArray().Select(l => l!.GetValue<string>()).Contains("three"), "the command's output to show");
        var all = await Capture(id, null, null);
        var lines = all["lines"]!.AsArray().Select(l => l!.GetValue<string>()).ToList();
        Assert.Equal(lines.Count, all["totalLines"]!.GetValue<int>());
        Assert.Equal(["one", "two", "three"], lines.Take(3));
        Assert.Equal(["two", "three"], (await Capture(id, 1, 2))["lines"]!.AsArray().Select(l => l!.GetValue<string>()));
        Assert.Equal([lines[^1]], (await Capture(id, -1, null))["lines"]!.AsArray().Select(l => l!.GetValue<string>()));

        // Arguments reach the program as given, even those tmux would read as its own (`;` ends a tmux command, `#` is a
        // format in a directory).
        var odd = _daemon.TestHome.PathIn("C#Tests");
        Directory.CreateDirectory(odd);
        var quoted = (await CreateAsync(_client, odd, null, "sh", "-c", "pwd; printf '%s|%s\n' \"$0\" \"$1\"; exec sleep 1000", "x;", "kill-server;"))["id"]!.GetValue<string>();
        await Eventually.HoldsAsync(async () => (await Capture(quoted, null, null))["lines"]!.AsArray().Select(l => l!.GetValue<string>()).Contains("x;|kill-server;"),
            "the arguments arrive as given");
        Assert.Contains(odd, (await Capture(quoted, null, null))["lines"]!.AsArray().Select(l => l!.GetValue<string>()));

        var relative = ProtocolClient.Payload(await _client.RequestAsync("create_terminal_request", new JsonObject { ["cwd"] = "shop" }), "create_terminal_response")!;
        Assert.Equal("cwd must be absolute path", relative["error"]!.GetValue<string>());
        Assert.Null(relative["terminal"]);
        var agent = ProtocolClient.Payload(await _client.RequestAsync("create_terminal_request", new JsonObject { ["cwd"] = _cwd, ["agentId"] = "a1" }), "create_terminal_response")!;
        Assert.Equal("Agent-backed terminals are no longer supported for agent a1", agent["error"]!.GetValue<string>());
        var missing = ProtocolClient.Payload(await _client.RequestAsync("create_terminal_request", new JsonObject { ["cwd"] = "/bin/ls", ["command"] = "true" }), "create_terminal_response")!;
        Assert.Contains("/bin/ls", missing["error"]!.GetValue<string>());

        var closed = ProtocolClient.Payload(await _client.RequestAsync("close_items_request", new JsonObject { ["terminalIds"] = new JsonArray(id) }), "close_items_response")!;
        Assert.True(closed["terminals"]![0]!["success"]!.GetValue<bool>());
        await Eventually.HoldsAsync(async () => ProtocolClient.Payload(await _client.RequestAsync("list_terminals_request"), "list_terminals_response")!["terminals"]!.AsArray()
            .All(t => t!["id"]!.GetValue<string>() != id), "the closed terminal to be gone");
    }

    [SkippableFact]
    public async Task Frames_before_hello_close_the_socket_and_stray_frames_are_ignored()
    {
        Require();
        var early = await ProtocolClient.ConnectAsync(_daemon);
        await early.SendBinaryAsync(BinaryFrames.Terminal(BinaryFrames.Input, 0, "ls\r"u8));
        Assert.Equal((4002, "Session message before hello"), await early.ExpectCloseAsync());

        // Output and Snapshot from a client, a slot not attached, an empty input and a bad resize: ignored, the session goes on.
        await _client.SendBinaryAsync(BinaryFrames.Terminal(BinaryFrames.Output, 0, "x"u8));
        await _client.SendBinaryAsync(BinaryFrames.Terminal(BinaryFrames.Input, 9, "x"u8));
        await _client.SendBinaryAsync([BinaryFrames.Input, 0]);
        await _client.SendBinaryAsync(BinaryFrames.Terminal(BinaryFrames.Resize, 0, "{\"rows\":0,\"cols\":80}"u8));
        await _client.SendBinaryAsync([0x05, 0x00, 0x01]);
        var pong = await _client.RequestAsync("ping");
        Assert.NotNull(ProtocolClient.Payload(pong, "pong"));
    }

    private async Task<JsonObject> Capture(string id, int? start, int? end)
    {
        var fields = new JsonObject { ["terminalId"] = id };
        if (start is not null) fields["start"] = start;
        if (end is not null) fields["end"] = end;
        return ProtocolClient.Payload(await _client.RequestAsync("capture_terminal_request", fields), "capture_terminal_response")!;
    }
}
