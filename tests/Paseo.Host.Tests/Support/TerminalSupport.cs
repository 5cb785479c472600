using System.Diagnostics;
using System.Text;
using System.Text.Json.Nodes;
using Paseo.Transport.Protocol;

namespace Paseo.Host.Tests.Support;

/// <summary>tmux for the terminal tests, and reading a terminal's stream off a real socket.</summary>
public static class TerminalSupport
{
    public static void Require() => Prerequisites.RequireProgram("tmux");

    /// <summary>Runs tmux on a daemon's socket; its stdout (null when it failed, e.g. no server).</summary>
    public static string? Tmux(string socket, params string[] args)
    {
        if (Paseo.Transport.Processes.ChildProcess.Which("tmux") is null) return null;
        var psi = new ProcessStartInfo("tmux") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var arg in (string[])["-S", socket, .. args]) psi.ArgumentList.Add(arg);
        psi.Environment.Remove("TMUX");
        using var process = Process.Start(psi)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        _ = process.StandardError.ReadToEndAsync();
        if (!process.WaitForExit(10_000)) process.Kill();
        return process.ExitCode == 0 ? stdout.Result : null;
    }

    /// <summary>Ends a test daemon's tmux server (and its terminals) if one runs.</summary>
    public static void KillServer(string socket)
    {
        if (File.Exists(socket)) Tmux(socket, "kill-server");
    }

    public static async Task<JsonObject> CreateAsync(ProtocolClient client, string cwd, string? name = null, params string[] command)
    {
        var fields = new JsonObject { ["cwd"] = cwd };
        if (name is not null) fields["name"] = name;
        if (command.Length > 0)
        {
            fields["command"] = command[0];
            fields["args"] = new JsonArray([.. command.Skip(1).Select(a => (JsonNode)a)]);
        }
        var payload = ProtocolClient.Payload(await client.RequestAsync("create_terminal_request", fields), "create_terminal_response")!;
        Assert.True(payload["error"] is null, $"create_terminal failed: {payload["error"]}");
        return payload["terminal"]!.AsObject();
    }

    /// <summary>subscribe_terminal → its slot; the Snapshot frame that follows the reply is returned too.</summary>
    public static async Task<(int Slot, JsonObject Snapshot)> SubscribeAsync(ProtocolClient client, string terminalId)
    {
        var payload = ProtocolClient.Payload(await client.RequestAsync("subscribe_terminal_request", new JsonObject { ["terminalId"] = terminalId }), "subscribe_terminal_response")!;
        Assert.True(payload["error"] is null, $"subscribe failed: {payload["error"]}");
        var slot = payload["slot"]!.GetValue<int>();
        while (true)
        {
            var frame = await client.NextBinaryAsync();
            if (frame[0] == BinaryFrames.Snapshot && frame[1] == slot) return (slot, (JsonObject)JsonNode.Parse(frame.AsSpan(2))!);
        }
    }

    public static Task TypeAsync(ProtocolClient client, int slot, string keys) =>
        client.SendBinaryAsync(BinaryFrames.Terminal(BinaryFrames.Input, (byte)slot, Encoding.UTF8.GetBytes(keys)));

    public static Task ResizeAsync(ProtocolClient client, int slot, int rows, int cols) =>
        client.SendBinaryAsync(BinaryFrames.Terminal(BinaryFrames.Resize, (byte)slot, Encoding.UTF8.GetBytes($"{{\"rows\":{rows},\"cols\":{cols}}}")));

    /// <summary>Reads Output frames of <paramref name="slot"/> until their text contains <paramref name="expected"/>; returns all of it.</summary>
    public static async Task<string> OutputUntilAsync(Func<Task<byte[]>> next, int slot, string expected)
    {
        var seen = new MemoryStream();
        while (true)
        {
            var frame = await next();
            if (frame.Length < 2 || frame[0] != BinaryFrames.Output || frame[1] != slot) continue;
            seen.Write(frame, 2, frame.Length - 2);
            var text = Encoding.UTF8.GetString(seen.ToArray());
            if (text.Contains(expected, StringComparison.Ordinal)) return text;
        }
    }

    /// <summary>The characters of one TerminalState row.</summary>
    public static string RowText(JsonNode row) => string.Concat(row.AsArray().Select(c => c!["char"]!.GetValue<string>()));
}
