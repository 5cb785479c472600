using System.CommandLine;
using Paseo.Host.Daemon;
using Paseo.Transport.Configuration;

namespace Paseo.Host.Cli;

/// <summary>The `paseo` command tree: daemon management, the relay server, and the agent commands (<see cref="AgentCommandLine"/>).</summary>
public static class PaseoCommandLine
{
    /// <summary>A server that runs until SIGTERM/SIGINT stops it through its host: `relay start`, and any start with --foreground.</summary>
    public static bool RunsUntilSignalled(ParseResult parse)
    {
        var command = parse.CommandResult.Command;
        if (command.Name == "start" && parse.CommandResult.Parent is System.CommandLine.Parsing.CommandResult { Command.Name: "relay" }) return true;
        return command.Options.FirstOrDefault(o => o.Name == "--foreground") is Option<bool> foreground && parse.GetValue(foreground);
    }

    public static RootCommand Build(IReadOnlyDictionary<string, string?> env, TextWriter stdout, TextWriter stderr, TextReader stdin)
    {
        var root = new RootCommand("Paseo.NET: run AI coding agents on this machine and drive them from anywhere.");
        var control = new DaemonControl(env, stdout, stderr);

        var home = new Option<string?>("--home") { Description = "Paseo home folder (default $PASEO_HOME or ~/.paseo)" };
        var json = new Option<bool>("--json") { Description = "Print machine-readable JSON" };

        // daemon start / top-level start
        Command MakeStart(string name)
        {
            var listen = new Option<string?>("--listen") { Description = "host:port, a port, [::1]:port, or unix:///path (default 127.0.0.1:6767)" };
            var port = new Option<int?>("--port") { Description = "Listen on 127.0.0.1:<port>" };
            var foreground = new Option<bool>("--foreground") { Description = "Run in this terminal instead of detaching" };
            var hostnames = new Option<string[]>("--hostnames") { Description = "Extra allowed Host names (comma list, `.domain` for subdomains, or `true`)", AllowMultipleArgumentsPerToken = false };
            var noRelay = new Option<bool>("--no-relay") { Description = "Do not connect to a relay" };
            var relay = new Option<string?>("--relay") { Description = "Connect to this relay endpoint (host:port)" };
            var embeddedRelay = new Option<string?>("--embedded-relay")
            {
                Description = $"Also run a relay server in this process (host:port, default {RelayServer.RelayRunner.DefaultListen}) and connect to it",
                Arity = ArgumentArity.ZeroOrOne,
            };
            var noMcp = new Option<bool>("--no-mcp") { Description = "Disable the MCP endpoint" };
            var noInjectMcp = new Option<bool>("--no-inject-mcp") { Description = "Do not inject the MCP server into agents" };
            var allowUnauth = new Option<bool>("--allow-unauthenticated-network") { Description = "Allow a non-loopback listen address without a password (not recommended)" };
            var start = new Command(name, "Start the daemon (detached unless --foreground)")
            {
                listen, port, home, foreground, hostnames, noRelay, relay, embeddedRelay, noMcp, noInjectMcp, allowUnauth, json,
            };
            start.SetAction(async (pr, _) =>
            {
                var flags = new DaemonFlags
                {
                    Home = pr.GetValue(home),
                    Listen = pr.GetValue(listen),
                    Port = pr.GetValue(port),
                    Hostnames = pr.GetValue(hostnames) ?? [],
                    NoRelay = pr.GetValue(noRelay),
                    RelayEndpoint = pr.GetValue(relay),
                    EmbeddedRelay = pr.GetResult(embeddedRelay) is null ? null : pr.GetValue(embeddedRelay) ?? RelayServer.RelayRunner.DefaultListen,
                    NoMcp = pr.GetValue(noMcp),
                    NoInjectMcp = pr.GetValue(noInjectMcp),
                    AllowUnauthenticatedNetwork = pr.GetValue(allowUnauth),
                };
                if (pr.GetValue(foreground)) return await DaemonRunner.RunForegroundAsync(flags, env, stderr);
                return await control.StartDetachedAsync(flags, Forwarded(flags), pr.GetValue(json));
            });
            return start;
        }

        Command MakeStop(string name)
        {
            var timeout = new Option<double?>("--timeout") { Description = "Seconds to wait for a graceful stop (default from paseo.hocon: 15)" };
            var force = new Option<bool>("--force") { Description = "Kill the daemon (SIGKILL to its process group) if it does not stop in time" };
            var killTimeout = new Option<double?>("--kill-timeout") { Description = "Seconds to wait after SIGKILL (default 5)" };
            var stop = new Command(name, "Stop the daemon gracefully") { home, timeout, force, killTimeout, json };
            stop.SetAction(async (pr, _) => await control.StopAsync(pr.GetValue(home), Seconds(pr.GetValue(timeout)), pr.GetValue(force), Seconds(pr.GetValue(killTimeout)), pr.GetValue(json)));
            return stop;
        }

        Command MakeStatus(string name)
        {
            var status = new Command(name, "Show whether the daemon runs: pid, listen address, uptime, health") { home, json };
            status.SetAction(async (pr, _) => await control.StatusAsync(pr.GetValue(home), pr.GetValue(json)));
            return status;
        }

        Command MakeRestart(string name)
        {
            var start = MakeStart(name);
            start.Description = "Stop the daemon if it runs, then start it again";
            var force = new Option<bool>("--force") { Description = "Kill the old daemon if it does not stop in time" };
            start.Options.Add(force);
            var startAction = start.Action!;
            start.SetAction(async (pr, ct) =>
            {
                var jsonOut = pr.GetValue(json);
                var stopped = await new DaemonControl(env, jsonOut ? TextWriter.Null : stdout, stderr)
                    .StopAsync(pr.GetValue(home), null, pr.GetValue(force), null, jsonOut, restarting: true);
                if (stopped != 0) return stopped;
                return await ((System.CommandLine.Invocation.AsynchronousCommandLineAction)startAction).InvokeAsync(pr, ct);
            });
            return start;
        }

        var setPassword = new Command("set-password", "Set the daemon password (stores only a bcrypt hash in config.json)");
        var fromStdin = new Option<bool>("--stdin") { Description = "Read the password from standard input instead of a hidden prompt" };
        setPassword.Options.Add(home);
        setPassword.Options.Add(fromStdin);
        setPassword.Options.Add(json);
        setPassword.SetAction(async (pr, _) => await control.SetPasswordAsync(pr.GetValue(home), pr.GetValue(fromStdin), stdin, pr.GetValue(json)));

        var pair = new Command("pair", "Print the pairing link and QR code that let a phone reach this daemon through the relay");
        var rotate = new Option<bool>("--rotate") { Description = "Replace the server id and keypair first, so every earlier pairing stops working" };
        var yes = new Option<bool>("--yes") { Description = "Rotate without asking for confirmation" };
        pair.Options.Add(home);
        pair.Options.Add(rotate);
        pair.Options.Add(yes);
        pair.Options.Add(json);
        var linkOnly = new Option<bool>("--quiet", "-q") { Description = "Print only the pairing link" };
        pair.Options.Add(linkOnly);
        pair.SetAction(async (pr, _) => await control.PairAsync(pr.GetValue(home), pr.GetValue(rotate), pr.GetValue(yes), stdin, pr.GetValue(json), pr.GetValue(linkOnly)));

        var daemon = new Command("daemon", "Manage the local daemon")
        {
            MakeStart("start"), MakeStop("stop"), MakeStatus("status"), MakeRestart("restart"), setPassword, pair,
        };
        root.Subcommands.Add(daemon);

        var agentCommands = new AgentCommandLine(env, stdout, stderr, home);
        foreach (var command in agentCommands.TopLevel()) root.Subcommands.Add(command);
        var agentGroup = new Command("agent", "Agent commands (each also exists at the top level), and `agent mode`");
        foreach (var command in agentCommands.TopLevel()) agentGroup.Subcommands.Add(command);
        agentGroup.Subcommands.Add(agentCommands.Mode());
        agentGroup.Subcommands.Add(agentCommands.Reload());
        root.Subcommands.Add(agentGroup);
        root.Subcommands.Add(agentCommands.Permit());
        root.Subcommands.Add(agentCommands.Provider());
        root.Subcommands.Add(agentCommands.Worktree());
        root.Subcommands.Add(agentCommands.Terminal());
        root.Subcommands.Add(agentCommands.Chat());
        root.Subcommands.Add(agentCommands.Schedule());
        root.Subcommands.Add(agentCommands.Loop());

        var relayListen = new Option<string?>("--listen") { Description = $"host:port to listen on (default {RelayServer.RelayRunner.DefaultListen}; 0.0.0.0:PORT for a public relay)" };
        var tlsCert = new Option<string?>("--tls-cert") { Description = "PEM certificate (chain) for wss://" };
        var tlsKey = new Option<string?>("--tls-key") { Description = "PEM private key of --tls-cert" };
        var relayHome = new Option<string?>("--home") { Description = "A folder whose paseo.hocon overrides the relay's limits" };
        var clustered = new Option<bool>("--cluster") { Description = "Run as one node of a relay cluster (rooms sharded over the nodes; paseo.relay-server.cluster)" };
        var clusterListen = new Option<string?>("--cluster-listen") { Description = "host:port of this node for the other nodes (default 127.0.0.1:6869)" };
        var seeds = new Option<string[]>("--seed") { Description = "host:port of a node to join (repeatable; none: start a new cluster)", AllowMultipleArgumentsPerToken = false };
        var clusterCert = new Option<string?>("--cluster-tls-cert") { Description = "PEM certificate for TLS between nodes (every node the same one; peers must present it)" };
        var clusterKey = new Option<string?>("--cluster-tls-key") { Description = "PEM private key of --cluster-tls-cert" };
        var insecureCluster = new Option<bool>("--allow-insecure-cluster") { Description = "Allow a non-loopback cluster address without TLS (a warning at every start)" };
        var relayPidFile = new Option<string?>("--pid-file") { Description = "Where the relay writes its pid for `paseo relay stop` (default: relay.pid in --home)" };
        var relayStart = new Command("start", "Run the relay server in the foreground")
        {
            relayListen, tlsCert, tlsKey, relayHome, relayPidFile, clustered, clusterListen, seeds, clusterCert, clusterKey, insecureCluster,
        };
        relayStart.SetAction(async (pr, _) =>
        {
            RelayServer.RelayClusterOptions? cluster = null;
            if (pr.GetValue(clustered))
                cluster = new RelayServer.RelayClusterOptions(pr.GetValue(clusterListen), pr.GetValue(seeds) ?? [], pr.GetValue(clusterCert), pr.GetValue(clusterKey), pr.GetValue(insecureCluster));
            else if (pr.GetValue(clusterListen) is not null || pr.GetValue(seeds) is { Length: > 0 } || pr.GetValue(clusterCert) is not null || pr.GetValue(clusterKey) is not null || pr.GetValue(insecureCluster))
            {
                await stderr.WriteLineAsync("paseo: --cluster-listen, --seed, --cluster-tls-* and --allow-insecure-cluster need --cluster");
                return Transport.Configuration.ConfigException.ExitCode;
            }
            return await RelayServer.RelayRunner.RunAsync(pr.GetValue(relayListen), pr.GetValue(tlsCert), pr.GetValue(tlsKey), pr.GetValue(relayHome), stdout, stderr, cluster,
                pr.GetValue(relayPidFile));
        });
        var stopHome = new Option<string?>("--home") { Description = "The --home the relay was started with (its relay.pid)" };
        var stopPidFile = new Option<string?>("--pid-file") { Description = "The relay's pid file, if it was started with --pid-file" };
        var stopTimeout = new Option<int>("--timeout") { Description = "Seconds to wait for it to exit (a cluster node hands its rooms over first)", DefaultValueFactory = _ => 60 };
        var relayStop = new Command("stop", "Stop a running relay (SIGTERM; a cluster node hands its rooms over and leaves first)") { stopHome, stopPidFile, stopTimeout };
        relayStop.SetAction(async (pr, _) => await RelayServer.RelayRunner.StopAsync(pr.GetValue(stopHome), pr.GetValue(stopPidFile), TimeSpan.FromSeconds(pr.GetValue(stopTimeout)), stdout, stderr));
        root.Subcommands.Add(new Command("relay", "The relay server that daemons and phones meet through") { relayStart, relayStop });
        root.Subcommands.Add(MakeStart("start"));
        root.Subcommands.Add(MakeStatus("status"));
        root.Subcommands.Add(MakeRestart("restart"));
        return root;
    }

    private static TimeSpan? Seconds(double? value) => value is { } v ? TimeSpan.FromSeconds(v) : null;

    /// <summary>The flags the detached child needs to resolve the same configuration.</summary>
    private static List<string> Forwarded(DaemonFlags flags)
    {
        var args = new List<string>();
        if (flags.Home is { } h) args.AddRange(["--home", Path.GetFullPath(h)]);
        if (flags.Listen is { } l) args.AddRange(["--listen", l]);
        if (flags.Port is { } p) args.AddRange(["--port", p.ToString(System.Globalization.CultureInfo.InvariantCulture)]);
        foreach (var name in flags.Hostnames) args.AddRange(["--hostnames", name]);
        if (flags.NoRelay) args.Add("--no-relay");
        if (flags.RelayEndpoint is { } r) args.AddRange(["--relay", r]);
        if (flags.EmbeddedRelay is { } embedded) args.AddRange(["--embedded-relay", embedded]);
        if (flags.NoMcp) args.Add("--no-mcp");
        if (flags.NoInjectMcp) args.Add("--no-inject-mcp");
        if (flags.AllowUnauthenticatedNetwork) args.Add("--allow-unauthenticated-network");
        return args;
    }
}
