using System.Diagnostics;
using System.Net.WebSockets;
using System.Text;
using System.Text.Json.Nodes;
using Paseo.Transport.Channels;
using Paseo.Transport.Crypto;
using Paseo.Transport.Protocol;

namespace Paseo.Bench;

/// <summary>
/// Terminals load driver (issue #16): a real relay and a real daemon (`paseo` processes), one phone through the relay with
/// end-to-end encryption, real shells in the daemon's tmux.
/// 1. Output throughput: `cat` of a large text file, end to end (MB/s at the phone), and CPU per MB of the daemon and of
///    the tmux server.
/// 2. Keystroke echo round trip: one key in an Input frame until its echo arrives in an Output frame (p50/p99).
/// 3. Snapshot: size and time (subscribe request to Snapshot frame) of a terminal with 1 000 lines of scrollback.
/// Options: --mb N (64) --keys N (500) --snapshots N (20).
/// </summary>
public static class TerminalsDriver
{
    public static async Task<int> RunAsync(string[] args)
    {
        int Arg(string name, int fallback) => Array.IndexOf(args, name) is var i and >= 0 && i + 1 < args.Length ? int.Parse(args[i + 1]) : fallback;
        var megabytes = Arg("--mb", 64);
        var keys = Arg("--keys", 500);
        var snapshots = Arg("--snapshots", 20);
        Console.WriteLine($"machine: {Environment.ProcessorCount} cores, {Environment.OSVersion}, .NET {Environment.Version}, {Tmux("-V")}");
        var root = Directory.CreateTempSubdirectory("paseo-terminals-bench-").FullName;
        var home = Path.Combine(root, "home");
        try
        {
            Directory.CreateDirectory(Path.Combine(root, "relay"));
            Directory.CreateDirectory(home);
            using var relay = RelayDriver.Start(["relay", "start", "--listen", "127.0.0.1:0", "--home", Path.Combine(root, "relay")]);
            var relayListen = await relay.LineAsync("Relay listening on ");
            using var daemon = RelayDriver.Start(["daemon", "start", "--foreground", "--port", "0", "--relay", relayListen, "--home", home]);
            await RelayDriver.WaitForFileAsync(Path.Combine(home, "paseo.pid"));
            await RelayDriver.WaitForFileAsync(Path.Combine(home, "daemon-keypair.json"));
            await RelayDriver.WaitForFileAsync(Path.Combine(home, "server-id"));
            var daemonKey = JsonNode.Parse(await File.ReadAllTextAsync(Path.Combine(home, "daemon-keypair.json")))!["publicKeyB64"]!.GetValue<string>();
            var serverId = (await File.ReadAllTextAsync(Path.Combine(home, "server-id"))).Trim();

            var socket = new ClientWebSocket();
            await socket.ConnectAsync(new Uri($"ws://{relayListen}/ws?serverId={serverId}&role=client&v=2"), CancellationToken.None);
            var phone = new Phone(E2eeClientChannel.Start(new WebSocketFrameTransport(socket, 64 << 20, 64, 1024), daemonKey, new E2eeClientOptions { MaxHelloAttempts = 60 }));
            await phone.SendTextAsync("{\"type\":\"hello\",\"clientId\":\"cid_bench_terminal\",\"clientType\":\"mobile\",\"protocolVersion\":1}");
            await phone.JsonAsync(f => f["message"]?["payload"]?["status"]?.GetValue<string>() == "server_info");

            // 1. Throughput.
            var file = Path.Combine(root, "big.txt");
            await using (var writer = new StreamWriter(file))
                for (var line = 0; writer.BaseStream.Length < (long)megabytes << 20; line++) await writer.WriteLineAsync($"{line:D8} the quick brown fox jumps over the lazy dog, again and again");
            var size = new FileInfo(file).Length;
            // /bin/sh, not the login shell of whoever runs the bench (its profile may take seconds to start).
            var shell = await phone.CreateAsync(root, ["sh"]);
            var slot = await phone.SubscribeAsync(shell);
            await phone.SendFrameAsync(BinaryFrames.Resize, slot, "{\"rows\":50,\"cols\":200}");
            await phone.TypeAndWaitAsync(slot, "stty -echo; echo READY-$((1+1))\r", "READY-2");
            var tmuxPid = int.Parse(Tmux("-S", Path.Combine(home, "terminals", "tmux.sock"), "display", "-p", "#{pid}"));
            var (daemonCpu0, tmuxCpu0) = (CpuSeconds(daemon.Pid), CpuSeconds(tmuxPid));
            var watch = Stopwatch.StartNew();
            var received = await phone.TypeAndWaitAsync(slot, $"cat {file}; echo __done__\r", "__done__\r\n");
            var seconds = watch.Elapsed.TotalSeconds;
            var (daemonCpu, tmuxCpu) = (CpuSeconds(daemon.Pid) - daemonCpu0, CpuSeconds(tmuxPid) - tmuxCpu0);
            var mb = size / 1048576.0;
            Console.WriteLine($"throughput: cat of {mb:0} MiB through the relay in {seconds:0.00} s = {mb / seconds:0.0} MiB/s at the phone ({received / 1048576.0:0.0} MiB of output frames); " +
                              $"CPU per MiB: daemon {daemonCpu * 1000 / mb:0.0} ms, tmux {tmuxCpu * 1000 / mb:0.0} ms; daemon RSS {daemon.RssMiB()} MiB");

            // 2. Keystroke echo: `cat` in cooked mode, so the terminal echoes each key as it is typed.
            var echo = await phone.CreateAsync(root, ["cat"]);
            var echoSlot = await phone.SubscribeAsync(echo);
            var rtts = await KeystrokesAsync(phone, echoSlot, keys);
            Console.WriteLine($"keystroke echo through the relay: p50 {RelayDriver.P(rtts, 0.5):0.00} ms, p99 {RelayDriver.P(rtts, 0.99):0.00} ms ({keys} keys)");
            // The same straight to the daemon's socket, to tell the relay's share from the terminal path's.
            var listen = Paseo.Transport.Daemon.PidFile.Read(Path.Combine(home, "paseo.pid"))!.Listen;
            var plain = new ClientWebSocket();
            await plain.ConnectAsync(new Uri($"ws://{listen}/ws"), CancellationToken.None);
            var direct = new Phone(new WebSocketFrameTransport(plain, 64 << 20, 64, 1024));
            await direct.SendTextAsync("{\"type\":\"hello\",\"clientId\":\"cid_bench_direct\",\"clientType\":\"mobile\",\"protocolVersion\":1}");
            await direct.JsonAsync(f => f["message"]?["payload"]?["status"]?.GetValue<string>() == "server_info");
            var directRtts = await KeystrokesAsync(direct, await direct.SubscribeAsync(echo), keys);
            Console.WriteLine($"keystroke echo on a direct socket: p50 {RelayDriver.P(directRtts, 0.5):0.00} ms, p99 {RelayDriver.P(directRtts, 0.99):0.00} ms ({keys} keys)");

            // 3. Snapshot with 1 000 lines of scrollback (the default limit) and a full 24×80 screen.
            var scrolled = await phone.CreateAsync(root, ["sh", "-c", "seq 1 3000; exec sleep 100000"]);
            await phone.SubscribeAsync(scrolled);
            var times = new List<double>();
            var bytes = 0;
            for (var i = 0; i < snapshots; i++)
            {
                watch.Restart();
                var (_, snapshot) = await phone.SubscribeWithSnapshotAsync(scrolled);
                times.Add(watch.Elapsed.TotalMilliseconds);
                bytes = snapshot.Length;
                if (i == 0) Console.WriteLine($"  scrollback rows: {JsonNode.Parse(snapshot.AsSpan(2))!["scrollback"]!.AsArray().Count}");
            }
            Console.WriteLine($"snapshot of 1000 lines of scrollback + 24×80: {bytes / 1024.0:0} KiB; subscribe to snapshot p50 {RelayDriver.P(times, 0.5):0.0} ms, p99 {RelayDriver.P(times, 0.99):0.0} ms");
            phone.Channel?.Close();
            return 0;
        }
        catch (Exception e) when (e is OperationCanceledException or System.Threading.Channels.ChannelClosedException)
        {
            Console.Error.WriteLine($"the phone saw nothing more ({e.GetType().Name}); the terminals show:");
            Console.Error.WriteLine(Tmux("-S", Path.Combine(home, "terminals", "tmux.sock"), "list-panes", "-a", "-F", "#{session_name} #{pane_current_command} #{pane_dead}"));
            Console.Error.WriteLine(Tmux("-S", Path.Combine(home, "terminals", "tmux.sock"), "capture-pane", "-p", "-S", "-30", "-t", Tmux("-S", Path.Combine(home, "terminals", "tmux.sock"), "list-sessions", "-F", "#{session_name}").Split('\n')[0]));
            Console.Error.WriteLine("the daemon's log ends:");
            foreach (var line in File.ReadLines(Path.Combine(home, "daemon.log")).TakeLast(15)) Console.Error.WriteLine(line.Length > 400 ? line[..400] : line);
            return 1;
        }
        finally
        {
            // The terminals outlive the daemon by design: the bench's go with its home, whatever happened.
            if (File.Exists(Path.Combine(home, "terminals", "tmux.sock"))) Tmux("-S", Path.Combine(home, "terminals", "tmux.sock"), "kill-server");
            try { Directory.Delete(root, recursive: true); } catch (IOException) { }
        }
    }

    private static async Task<List<double>> KeystrokesAsync(Phone phone, byte slot, int keys)
    {
        var rtts = new List<double>();
        var watch = new Stopwatch();
        for (var i = 0; i < keys + 20; i++)
        {
            var key = ((char)('a' + i % 26)).ToString();
            watch.Restart();
            await phone.TypeAndWaitAsync(slot, key, key);
            if (i >= 20) rtts.Add(watch.Elapsed.TotalMilliseconds);
        }
        return rtts;
    }

    private static double CpuSeconds(int pid)
    {
        var fields = File.ReadAllText($"/proc/{pid}/stat").Split(')')[1].Split(' ', StringSplitOptions.RemoveEmptyEntries);
        return (long.Parse(fields[11]) + long.Parse(fields[12])) / 100.0; // utime + stime in clock ticks (100/s)
    }

    private static string Tmux(params string[] args)
    {
        var psi = new ProcessStartInfo("tmux") { RedirectStandardOutput = true, UseShellExecute = false };
        foreach (var a in args) psi.ArgumentList.Add(a);
        using var p = Process.Start(psi)!;
        var output = p.StandardOutput.ReadToEnd().Trim();
        p.WaitForExit();
        return output;
    }

    /// <summary>A phone's socket: through the relay (the E2EE channel) or straight to the daemon (plain WebSocket messages).</summary>
    private sealed class Phone
    {
        private int _next;
        private readonly Func<E2eeMessage, ValueTask> _send;

        public Phone(E2eeClientChannel channel)
        {
            Channel = channel;
            Messages = channel.Messages;
            _send = m => channel.SendAsync(m);
        }

        public Phone(IFrameTransport direct)
        {
            var messages = System.Threading.Channels.Channel.CreateUnbounded<E2eeMessage>();
            _ = Task.Run(async () =>
            {
                await foreach (var frame in direct.Inbound.ReadAllAsync())
                    messages.Writer.TryWrite(frame is WireFrame.Text t ? E2eeMessage.FromText(t.Value) : E2eeMessage.FromBytes(((WireFrame.Binary)frame).Value));
                messages.Writer.TryComplete();
            });
            Messages = messages.Reader;
            _send = m => direct.Outbound.WriteAsync(m.IsText ? new WireFrame.Text(m.Text) : new WireFrame.Binary(m.Bytes));
        }

        public E2eeClientChannel? Channel { get; }
        public System.Threading.Channels.ChannelReader<E2eeMessage> Messages { get; }

        public ValueTask SendTextAsync(string text) => _send(E2eeMessage.FromText(text));

        public async Task<JsonObject> JsonAsync(Func<JsonObject, bool> match)
        {
            using var limit = new CancellationTokenSource(TimeSpan.FromSeconds(60));
            while (true)
            {
                var message = await Messages.ReadAsync(limit.Token);
                if (message.Bytes.Length == 0 || message.Bytes.Span[0] != (byte)'{') continue;
                if (JsonNode.Parse(message.Text) is JsonObject frame && match(frame)) return frame;
            }
        }

        public async Task<JsonObject> RequestAsync(string type, JsonObject fields)
        {
            var id = $"b{_next++}";
            fields["type"] = type;
            fields["requestId"] = id;
            await SendTextAsync(new JsonObject { ["type"] = "session", ["message"] = fields }.ToJsonString());
            return (await JsonAsync(f => f["message"]?["payload"]?["requestId"]?.GetValue<string>() == id))["message"]!["payload"]!.AsObject();
        }

        public async Task<string> CreateAsync(string cwd, string[] command)
        {
            var fields = new JsonObject { ["cwd"] = cwd };
            if (command.Length > 0)
            {
                fields["command"] = command[0];
                fields["args"] = new JsonArray([.. command.Skip(1).Select(a => (JsonNode)a)]);
            }
            return (await RequestAsync("create_terminal_request", fields))["terminal"]!["id"]!.GetValue<string>();
        }

        public async Task<byte> SubscribeAsync(string id) => (await SubscribeWithSnapshotAsync(id)).Slot;

        public async Task<(byte Slot, byte[] Snapshot)> SubscribeWithSnapshotAsync(string id)
        {
            var slot = (byte)(await RequestAsync("subscribe_terminal_request", new JsonObject { ["terminalId"] = id }))["slot"]!.GetValue<int>();
            while (true)
            {
                var frame = await NextFrameAsync();
                if (frame[0] == BinaryFrames.Snapshot && frame[1] == slot) return (slot, frame);
            }
        }

        public ValueTask SendFrameAsync(byte opcode, byte slot, string payload) =>
            _send(E2eeMessage.FromBytes(BinaryFrames.Terminal(opcode, slot, Encoding.UTF8.GetBytes(payload))));

        /// <summary>Types, then reads Output frames of the slot until <paramref name="expected"/> shows; returns the bytes read.</summary>
        public async Task<long> TypeAndWaitAsync(byte slot, string keys, string expected)
        {
            await SendFrameAsync(BinaryFrames.Input, slot, keys);
            var tail = "";
            long total = 0;
            while (true)
            {
                var frame = await NextFrameAsync();
                if (frame[0] != BinaryFrames.Output || frame[1] != slot) continue;
                total += frame.Length - 2;
                tail = tail + Encoding.UTF8.GetString(frame.AsSpan(2));
                if (tail.Contains(expected, StringComparison.Ordinal)) return total;
                if (tail.Length > 256) tail = tail[^256..];
            }
        }

        private async Task<byte[]> NextFrameAsync()
        {
            using var limit = new CancellationTokenSource(TimeSpan.FromSeconds(120));
            while (true)
            {
                var message = await Messages.ReadAsync(limit.Token);
                if (message.Bytes.Length >= 2 && message.Bytes.Span[0] is >= 1 and <= 4) return message.Bytes.ToArray();
            }
        }
    }
}
