using System.Diagnostics;
using System.Text;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using CliWrap;
using Paseo.Transport.Processes;

namespace Paseo.Transport.Workspaces;

/// <summary>`paseo.workspaces.setup`: how long one setup/teardown command may run and how much of its output is kept.</summary>
public sealed record WorktreeScriptLimits(TimeSpan CommandTimeout, int OutputBytes)
{
    public static readonly WorktreeScriptLimits Default = new(TimeSpan.FromMinutes(30), 64 * 1024);
}

/// <summary>One command of a worktree setup as the worktree_setup detail shows it (app-schemas.md D.2).</summary>
public sealed record SetupCommand(int Index, string Command, string Cwd, string Log, string Status, int? ExitCode, long? DurationMs)
{
    public JsonObject ToJson()
    {
        var json = new JsonObject { ["index"] = Index, ["command"] = Command, ["cwd"] = Cwd, ["log"] = Log, ["status"] = Status, ["exitCode"] = ExitCode };
        if (DurationMs is { } ms) json["durationMs"] = ms;
        return json;
    }
}

/// <summary>
/// paseo.json's `worktree.setup` and `worktree.teardown` (app-workspaces.md §4.2): each command runs in the worktree as
/// `/bin/bash -lc &lt;command&gt;` with the `PASEO_*` environment, in its own process group (killed whole at the timeout), its
/// output kept to the limit (first and last half, the middle marked) with colours stripped. The first failure stops the run.
/// </summary>
public static partial class WorktreeScripts
{
    private static readonly string[] DroppedEnvironment = ["PASEO_NODE_ENV", "PASEO_DESKTOP_MANAGED", "PASEO_SUPERVISED", "ELECTRON_RUN_AS_NODE", "ELECTRON_NO_ATTACH_CONSOLE"];

    [GeneratedRegex(@"\x1B(?:\[[0-?]*[ -/]*[@-~]|\][^\x07\x1B]*(?:\x07|\x1B\\)|[@-Z\\-_])")]
    private static partial Regex Ansi();

    /// <summary>The commands of `worktree.&lt;key&gt;`: one non-blank string or the non-blank strings of an array; a paseo.json that does not parse throws with Paseo's words.</summary>
    public static IReadOnlyList<string> Commands(string worktree, string key)
    {
        var config = ReadConfig(worktree);
        return config?["worktree"]?[key] switch
        {
            JsonValue v when v.TryGetValue<string>(out var one) && one.Trim().Length > 0 => [one],
            JsonArray many => many.Select(n => n is JsonValue e && e.TryGetValue<string>(out var s) ? s : null).Where(s => s is { Length: > 0 } && s.Trim().Length > 0).Select(s => s!).ToList(),
            _ => [],
        };
    }

    /// <summary>The worktree's paseo.json (null when there is none); one that is not a small regular file or does not parse throws with Paseo's words.</summary>
    private static JsonNode? ReadConfig(string worktree)
    {
        var path = Path.Combine(worktree, ProjectConfigFile.FileName);
        if (!File.Exists(path)) return null;
        if (Files.UnixFiles.IsRegularFile(path) != true || new FileInfo(path).Length > ProjectConfigFile.MaxBytes)
            throw new InvalidOperationException($"Failed to parse paseo.json at {path}: not a regular file of at most {ProjectConfigFile.MaxBytes} bytes");
        try { return JsonNode.Parse(File.ReadAllText(path)); }
        catch (System.Text.Json.JsonException e) { throw new InvalidOperationException($"Failed to parse paseo.json at {path}: {e.Message}"); }
    }

    /// <summary>`worktree.terminals` (`[{name?, command}]`): the terminals a worktree made for an agent opens after its setup.</summary>
    public static IReadOnlyList<(string? Name, string Command)> Terminals(string worktree)
    {
        if (ReadConfig(worktree)?["worktree"]?["terminals"] is not JsonArray entries) return [];
        return [.. entries.OfType<JsonObject>()
            .Select(e => (Name: e["name"] is JsonValue n && n.TryGetValue<string>(out var name) && name.Trim().Length > 0 ? name.Trim() : null,
                Command: e["command"] is JsonValue c && c.TryGetValue<string>(out var command) ? command.Trim() : ""))
            .Where(e => e.Command.Length > 0)];
    }

    public static IReadOnlyDictionary<string, string?> Environment(string repoRoot, string worktree, string branch, int port)
    {
        var env = new Dictionary<string, string?>();
        foreach (var name in DroppedEnvironment) env[name] = null;
        env["PASEO_SOURCE_CHECKOUT_PATH"] = repoRoot;
        env["PASEO_ROOT_PATH"] = repoRoot;
        env["PASEO_WORKTREE_PATH"] = worktree;
        env["PASEO_BRANCH_NAME"] = branch;
        env["PASEO_WORKTREE_PORT"] = port.ToString(System.Globalization.CultureInfo.InvariantCulture);
        return env;
    }

    /// <summary>Runs the commands in order; <paramref name="progress"/> sees every command's state as it changes. Returns false at the first failure.</summary>
    public static async Task<(bool Ok, IReadOnlyList<SetupCommand> Commands, string? Error)> RunAsync(IReadOnlyList<string> commands, string cwd,
        IReadOnlyDictionary<string, string?> environment, WorktreeScriptLimits limits, Action<IReadOnlyList<SetupCommand>> progress, CancellationToken cancel)
    {
        var done = new List<SetupCommand>();
        for (var i = 0; i < commands.Count; i++)
        {
            var command = commands[i];
            progress([.. done, new SetupCommand(i + 1, command, cwd, "", "running", null, null)]);
            var output = new KeptOutput(limits.OutputBytes);
            var clock = Stopwatch.StartNew();
            int exitCode;
            var pid = 0;
            using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancel);
            timeout.CancelAfter(limits.CommandTimeout);
            try
            {
                var running = Cli.Wrap("setsid").WithArguments(["/bin/bash", "-lc", command]).WithWorkingDirectory(cwd)
                    .WithEnvironmentVariables(environment).WithValidation(CommandResultValidation.None)
                    .WithStandardInputPipe(PipeSource.Null)
                    .WithStandardOutputPipe(PipeTarget.ToDelegate(output.Add)).WithStandardErrorPipe(PipeTarget.ToDelegate(output.Add))
                    .ExecuteAsync(timeout.Token);
                pid = running.ProcessId;
                exitCode = (await running.ConfigureAwait(false)).ExitCode;
            }
            catch (OperationCanceledException)
            {
                ChildProcess.KillGroup(pid);
                output.Add($"(stopped after {limits.CommandTimeout.TotalSeconds:0} s)");
                exitCode = -1;
            }
            var status = exitCode == 0 ? "completed" : "failed";
            done.Add(new SetupCommand(i + 1, command, cwd, output.Text, status, exitCode, clock.ElapsedMilliseconds));
            progress(done);
            if (exitCode != 0) return (false, done, $"Worktree setup command failed: {command}\n{output.Tail}");
        }
        return (true, done, null);
    }

    /// <summary>The detail's `log`: each command's banner and output.</summary>
    public static string Log(IReadOnlyList<SetupCommand> commands)
    {
        var log = new StringBuilder();
        foreach (var c in commands)
        {
            if (log.Length > 0) log.Append('\n');
            log.Append($"==> [{c.Index}/{commands.Count}] Running: {c.Command}");
            if (c.Log.Length > 0) log.Append('\n').Append(c.Log);
            if (c.Status != "running") log.Append($"\n<== [{c.Index}/{commands.Count}] Exit {c.ExitCode} in {(c.DurationMs ?? 0) / 1000.0:0.00}s");
        }
        return log.ToString();
    }

    /// <summary>Output lines with colours stripped and carriage returns applied, kept to a limit: the first and last halves.</summary>
    private sealed class KeptOutput(int limit)
    {
        private readonly StringBuilder _head = new();
        private readonly Queue<string> _tail = new();
        private int _tailLength;
        private bool _full;
        private bool _dropped;

        public void Add(string line)
        {
            var clean = Ansi().Replace(line, "");
            var cr = clean.LastIndexOf('\r');
            if (cr >= 0) clean = clean[(cr + 1)..];
            lock (_tail)
            {
                if (!_full && _head.Length + clean.Length + 1 <= limit / 2)
                {
                    _head.Append(clean).Append('\n');
                    return;
                }
                _full = true;
                _tail.Enqueue(clean.Length > limit / 2 ? clean[..(limit / 2)] : clean);
                _tailLength += Math.Min(clean.Length, limit / 2) + 1;
                while (_tailLength > limit / 2 && _tail.Count > 1)
                {
                    _tailLength -= _tail.Dequeue().Length + 1;
                    _dropped = true;
                }
            }
        }

        public string Text
        {
            get
            {
                lock (_tail)
                {
                    var text = _head.ToString();
                    if (_tail.Count > 0) text += (_dropped ? "...<output truncated in the middle>...\n" : "") + string.Join('\n', _tail) + "\n";
                    return text.TrimEnd('\n');
                }
            }
        }

        public string Tail
        {
            get
            {
                var text = Text;
                return text.Length <= 2048 ? text : text[^2048..];
            }
        }
    }
}
