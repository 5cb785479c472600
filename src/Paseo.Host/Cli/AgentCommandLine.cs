using System.CommandLine;
using Paseo.Host.Cli.Agents;
using Paseo.Host.Cli.Output;

namespace Paseo.Host.Cli;

/// <summary>
/// The agent commands' flags (app-protocol.md §7), each bound to <see cref="AgentCommands"/>. Every command takes the target
/// (`--host`, `--home`) and the output flags (`--json`, `-o table|json|yaml`, `-q`, `--no-headers`, `--no-color`).
/// </summary>
public sealed class AgentCommandLine(IReadOnlyDictionary<string, string?> env, TextWriter stdout, TextWriter stderr, Option<string?> home)
{
    private readonly AgentCommands _commands = new(env);
    private readonly Option<string?> _host = new("--host") { Description = "Daemon: host:port, tcp://host:port?password=…&ssl=true, unix:///path, or a pairing link (default: PASEO_HOST, then the local daemon)" };
    private readonly Option<bool> _json = new("--json") { Description = "Print JSON (errors as {\"error\":{code,message}})" };
    private readonly Option<string?> _format = new("--format", "-o") { Description = "table (default), json or yaml" };
    private readonly Option<bool> _quiet = new("--quiet", "-q") { Description = "Print ids only" };
    private readonly Option<bool> _noHeaders = new("--no-headers") { Description = "Tables without the header row" };
    private readonly Option<bool> _noColor = new("--no-color") { Description = "No colours (also NO_COLOR=1; never when piped)" };

    private Command Make(string name, string description, Func<ParseResult, CliContext, CancellationToken, Task<int>> action, params Symbol[] symbols)
    {
        var command = new Command(name, description);
        foreach (var symbol in symbols)
        {
            if (symbol is Argument argument) command.Arguments.Add(argument);
            else command.Options.Add((Option)symbol);
        }
        foreach (var option in new Option[] { _host, home, _json, _format, _quiet, _noHeaders, _noColor }) command.Options.Add(option);
        command.SetAction(async (pr, ct) =>
        {
            CliOutput output;
            var json = pr.GetValue(_json);
            try
            {
                output = new CliOutput(stdout, stderr, CliOutput.ParseFormat(pr.GetValue(_format), json), pr.GetValue(_quiet), pr.GetValue(_noHeaders),
                    pr.GetValue(_noColor) || env.ContainsKey("NO_COLOR"), IsTerminal());
            }
            catch (CliException e)
            {
                return new CliOutput(stdout, stderr, json ? OutputFormat.Json : OutputFormat.Table, false, false, true, false).Error(e);
            }
            return await action(pr, new CliContext(pr.GetValue(_host), pr.GetValue(home), output), ct);
        });
        return command;
    }

    private bool IsTerminal() => ReferenceEquals(stdout, Console.Out) && !Console.IsOutputRedirected;

    private static Argument<string> Id(string description = "Agent id, unique id prefix, or title") => new("id") { Description = description };

    private static Argument<string?> OptionalId() => new("id") { Description = "Agent id, unique id prefix, or title", Arity = ArgumentArity.ZeroOrOne };

    private static Option<string[]> Labels(string description) => new("--label") { Description = description };

    private static Option<string[]> Images() => new("--image") { Description = "Attach an image (.png, .jpg, .gif, .webp); repeatable" };

    public IEnumerable<Command> TopLevel()
    {
        var all = new Option<bool>("--all", "-a") { Description = "Include archived agents" };
        var global = new Option<bool>("-g") { Description = "Accepted for Paseo compatibility (no effect)" };
        var lsLabels = Labels("Only agents with this label (key=value); repeatable");
        yield return Make("ls", "List agents (running first, then idle, newest first)",
            (pr, c, _) => _commands.ListAsync(c, pr.GetValue(all), pr.GetValue(lsLabels) ?? []), all, global, lsLabels);

        var prompt = new Argument<string>("prompt") { Description = "What the agent should do" };
        var provider = new Option<string?>("--provider") { Description = "Provider, optionally with a model: claude, codex/gpt-5, mock (required)" };
        var model = new Option<string?>("--model") { Description = "Model id" };
        var mode = new Option<string?>("--mode") { Description = "Mode id (provider ls shows them)" };
        var thinking = new Option<string?>("--thinking") { Description = "Thinking option id" };
        var title = new Option<string?>("--title") { Description = "A name for the agent" };
        var detach = new Option<bool>("--detach", "-d") { Description = "Print the agent id and return without waiting" };
        var runImages = Images();
        var cwd = new Option<string?>("--cwd") { Description = "Working directory of the agent (default: the current one)" };
        var runLabels = Labels("Label the agent (key=value); repeatable");
        var waitTimeout = new Option<string?>("--wait-timeout") { Description = "Give up waiting after this long (30s, 5m, 1h); the agent keeps running" };
        var outputSchema = new Option<string?>("--output-schema") { Description = "A JSON schema (file or inline JSON): print only the agent's final JSON, checked against it" };
        var worktree = new Option<string?>("--worktree") { Description = "Run in a new Paseo worktree of the --cwd repository, on a new branch of this name" };
        yield return Make("run", "Create an agent with a prompt and wait for it to finish",
            (pr, c, _) => _commands.RunAsync(c, new RunOptions(pr.GetValue(prompt)!, pr.GetValue(provider), pr.GetValue(model), pr.GetValue(mode), pr.GetValue(thinking),
                pr.GetValue(title), pr.GetValue(detach), pr.GetValue(runImages) ?? [], pr.GetValue(cwd), pr.GetValue(runLabels) ?? [], pr.GetValue(waitTimeout), pr.GetValue(outputSchema), pr.GetValue(worktree))),
            prompt, provider, model, mode, thinking, title, detach, runImages, cwd, runLabels, waitTimeout, outputSchema, worktree);

        var importId = new Argument<string>("session-id") { Description = "The provider's session id (Claude session, Codex thread, OpenCode session)" };
        var importProvider = new Option<string?>("--provider") { Description = "The provider the session belongs to (required)" };
        var importCwd = new Option<string?>("--cwd") { Description = "Working directory of the agent (OpenCode needs it for a session the daemon does not know)" };
        var importLabels = Labels("Label the agent (key=value); repeatable");
        yield return Make("import", "Adopt an existing provider session as an agent",
            (pr, c, _) => _commands.ImportAsync(c, pr.GetValue(importId)!, pr.GetValue(importProvider), pr.GetValue(importCwd), pr.GetValue(importLabels) ?? []),
            importId, importProvider, importCwd, importLabels);

        var inspectId = Id();
        yield return Make("inspect", "Show one agent", (pr, c, _) => _commands.InspectAsync(c, pr.GetValue(inspectId)!), inspectId);

        var logsId = Id();
        var follow = new Option<bool>("--follow", "-f") { Description = "Keep printing new output until Ctrl-C" };
        var tail = new Option<int?>("--tail") { Description = "Only the last N rows" };
        var filter = new Option<string?>("--filter") { Description = "tools, text, errors or permissions" };
        var since = new Option<string?>("--since") { Description = "Rows newer than a duration ago (10m) or an ISO time" };
        yield return Make("logs", "Print an agent's timeline",
            (pr, c, ct) => _commands.LogsAsync(c, pr.GetValue(logsId)!, pr.GetValue(follow), pr.GetValue(tail), pr.GetValue(filter), pr.GetValue(since), ct),
            logsId, follow, tail, filter, since);

        var attachId = Id();
        yield return Make("attach", "Follow an agent's live output (Ctrl-C detaches; the agent keeps running)",
            (pr, c, ct) => _commands.AttachAsync(c, pr.GetValue(attachId)!, ct), attachId);

        var sendId = Id();
        var sendPrompt = new Argument<string?>("prompt") { Description = "The prompt", Arity = ArgumentArity.ZeroOrOne };
        var promptFlag = new Option<string?>("--prompt") { Description = "The prompt (instead of the argument)" };
        var promptFile = new Option<string?>("--prompt-file") { Description = "Read the prompt from a file (- for standard input)" };
        var sendImages = Images();
        var noWait = new Option<bool>("--no-wait") { Description = "Return once the daemon accepted the prompt" };
        var sendTimeout = new Option<string?>("--wait-timeout") { Description = "Give up waiting after this long (30s, 5m, 1h)" };
        yield return Make("send", "Send a prompt to an agent and wait for it to finish",
            (pr, c, _) => _commands.SendAsync(c, pr.GetValue(sendId)!, pr.GetValue(sendPrompt), pr.GetValue(promptFlag), pr.GetValue(promptFile), pr.GetValue(sendImages) ?? [], pr.GetValue(noWait), pr.GetValue(sendTimeout)),
            sendId, sendPrompt, promptFlag, promptFile, sendImages, noWait, sendTimeout);

        var waitId = Id();
        var timeout = new Option<string?>("--timeout") { Description = "Give up after this long (30s, 5m, 1h)" };
        yield return Make("wait", "Wait until an agent is idle (exit 1 on error, permission or timeout)",
            (pr, c, _) => _commands.WaitAsync(c, pr.GetValue(waitId)!, pr.GetValue(timeout)), waitId, timeout);

        var stopId = OptionalId();
        var stopAll = new Option<bool>("--all") { Description = "Stop every running agent" };
        var stopCwd = new Option<string?>("--cwd") { Description = "With --all: only agents in this directory" };
        yield return Make("stop", "Interrupt an agent's turn", (pr, c, _) => _commands.StopAsync(c, pr.GetValue(stopId), pr.GetValue(stopAll), pr.GetValue(stopCwd)), stopId, stopAll, stopCwd);

        var archiveId = Id();
        var force = new Option<bool>("--force") { Description = "Archive even if it is running (interrupts it)" };
        yield return Make("archive", "Archive an agent (ls hides it; ls -a shows it)", (pr, c, _) => _commands.ArchiveAsync(c, pr.GetValue(archiveId)!, pr.GetValue(force)), archiveId, force);

        var deleteId = OptionalId();
        var deleteAll = new Option<bool>("--all") { Description = "Delete every agent" };
        var deleteCwd = new Option<string?>("--cwd") { Description = "With --all: only agents in this directory" };
        yield return Make("delete", "Delete an agent and its timeline", (pr, c, _) => _commands.DeleteAsync(c, pr.GetValue(deleteId), pr.GetValue(deleteAll), pr.GetValue(deleteCwd)), deleteId, deleteAll, deleteCwd);
    }

    public Command Mode()
    {
        var id = Id();
        var mode = new Argument<string?>("mode") { Description = "The mode to set; without it, the modes are listed", Arity = ArgumentArity.ZeroOrOne };
        var list = new Option<bool>("--list") { Description = "List the agent's modes" };
        return Make("mode", "Show or set an agent's mode", (pr, c, _) => _commands.ModeAsync(c, pr.GetValue(id)!, pr.GetValue(mode), pr.GetValue(list)), id, mode, list);
    }

    public Command Reload()
    {
        var id = Id();
        return Make("reload", "Reload an agent's provider session (un-archives it)", (pr, c, _) => _commands.ReloadAsync(c, pr.GetValue(id)!), id);
    }

    public Command Chat()
    {
        var commands = new Chat.ChatCommands(_commands, env);
        Argument<string> Room() => new("name-or-id") { Description = "Room name (any case) or id" };
        var createName = new Argument<string>("name") { Description = "Room name (unique, ignoring case)" };
        var purpose = new Option<string?>("--purpose") { Description = "What the room is for" };
        var create = Make("create", "Create a chat room", (pr, c, _) => commands.CreateAsync(c, pr.GetValue(createName)!, pr.GetValue(purpose)), createName, purpose);
        var ls = Make("ls", "List chat rooms (most recent message first)", (pr, c, _) => commands.ListAsync(c));
        var inspectRoom = Room();
        var inspect = Make("inspect", "Show a chat room", (pr, c, _) => commands.InspectAsync(c, pr.GetValue(inspectRoom)!), inspectRoom);
        var deleteRoom = Room();
        var delete = Make("delete", "Delete a chat room and its messages", (pr, c, _) => commands.DeleteAsync(c, pr.GetValue(deleteRoom)!), deleteRoom);
        var postRoom = Room();
        var message = new Argument<string>("message") { Description = "The message (@<agent-id> mentions an agent; @everyone every agent)" };
        var replyTo = new Option<string?>("--reply-to") { Description = "Id of the message this answers" };
        var post = Make("post", "Post a message to a chat room", (pr, c, _) => commands.PostAsync(c, pr.GetValue(postRoom)!, pr.GetValue(message)!, pr.GetValue(replyTo)),
            postRoom, message, replyTo);
        var readRoom = Room();
        var limit = new Option<string?>("--limit") { Description = "The last N messages (default 20; 0: all)" };
        var since = new Option<string?>("--since") { Description = "Messages since a duration ago (10m) or an ISO time" };
        var agent = new Option<string?>("--agent") { Description = "Only messages by this author id" };
        var read = Make("read", "Print a chat room's messages", (pr, c, _) => commands.ReadAsync(c, pr.GetValue(readRoom)!, pr.GetValue(limit), pr.GetValue(since), pr.GetValue(agent)),
            readRoom, limit, since, agent);
        var waitRoom = Room();
        var timeout = new Option<string?>("--timeout") { Description = "Give up after this long (30s, 5m); without it, wait until a message comes" };
        var wait = Make("wait", "Wait for the next message in a chat room and print it", (pr, c, ct) => commands.WaitAsync(c, pr.GetValue(waitRoom)!, pr.GetValue(timeout), ct),
            waitRoom, timeout);
        return new Command("chat", "Manage chat rooms for agent coordination") { create, ls, inspect, delete, post, read, wait };
    }

    public Command Schedule()
    {
        var commands = new Schedules.ScheduleCommands(_commands, env);
        Argument<string> Id() => new("id") { Description = "Schedule id (8 hex digits)" };
        var prompt = new Argument<string>("prompt") { Description = "What the agent is asked at each run" };
        var every = new Option<string?>("--every") { Description = "Run every interval: 30s, 10m, 1h30m" };
        var cron = new Option<string?>("--cron") { Description = "Run on a 5-field cron expression (UTC unless --timezone)" };
        var timeZone = new Option<string?>("--timezone") { Description = "IANA time zone of --cron, such as Europe/Paris (ours: Paseo's cron is UTC only)" };
        var name = new Option<string?>("--name") { Description = "A name for the schedule" };
        var target = new Option<string?>("--target") { Description = "self (inside an agent), new-agent, or an agent id" };
        var provider = new Option<string?>("--provider") { Description = "For new-agent: provider, optionally with a model: claude, codex/gpt-5, mock" };
        var maxRuns = new Option<string?>("--max-runs") { Description = "Complete after this many runs" };
        var expiresIn = new Option<string?>("--expires-in") { Description = "Complete after this long: 24h, 90m (no day unit: 168h for a week)" };
        var cwd = new Option<string?>("--cwd") { Description = "For new-agent: its working directory (default: the current one)" };
        var create = Make("create", "Create a schedule",
            (pr, c, _) => commands.CreateAsync(c, new Schedules.ScheduleCommands.CreateOptions(pr.GetValue(prompt)!, pr.GetValue(every), pr.GetValue(cron), pr.GetValue(timeZone),
                pr.GetValue(name), pr.GetValue(target), pr.GetValue(provider), pr.GetValue(maxRuns), pr.GetValue(expiresIn), pr.GetValue(cwd))),
            prompt, every, cron, timeZone, name, target, provider, maxRuns, expiresIn, cwd);
        var ls = Make("ls", "List schedules", (pr, c, _) => commands.ListAsync(c));
        var inspectId = Id();
        var inspect = Make("inspect", "Show a schedule", (pr, c, _) => commands.InspectAsync(c, pr.GetValue(inspectId)!), inspectId);
        var logsId = Id();
        var logs = Make("logs", "Show a schedule's runs", (pr, c, _) => commands.LogsAsync(c, pr.GetValue(logsId)!), logsId);
        var pauseId = Id();
        var pause = Make("pause", "Pause a schedule", (pr, c, _) => commands.PauseAsync(c, pr.GetValue(pauseId)!), pauseId);
        var resumeId = Id();
        var resume = Make("resume", "Resume a paused schedule", (pr, c, _) => commands.ResumeAsync(c, pr.GetValue(resumeId)!), resumeId);
        var deleteId = Id();
        var delete = Make("delete", "Delete a schedule", (pr, c, _) => commands.DeleteAsync(c, pr.GetValue(deleteId)!), deleteId);
        return new Command("schedule", "Manage recurring schedules") { create, ls, inspect, logs, pause, resume, delete };
    }

    public Command Loop()
    {
        var commands = new Loops.LoopCommands(_commands);
        Argument<string> Id() => new("id") { Description = "Loop id (or a unique prefix)" };
        var prompt = new Argument<string>("prompt") { Description = "What each iteration's fresh worker agent is asked" };
        var provider = new Option<string?>("--provider") { Description = "Provider of the worker and verifier, optionally with a model: claude, codex/gpt-5, mock (default claude)" };
        var model = new Option<string?>("--model") { Description = "Model (wins over the /model part of --provider)" };
        var workerProvider = new Option<string?>("--worker-provider") { Description = "The worker's provider[/model], if not --provider's (ours: Paseo's CLI cannot set it)" };
        var workerModel = new Option<string?>("--worker-model") { Description = "The worker's model (ours)" };
        var verifyProvider = new Option<string?>("--verify-provider") { Description = "The verifier's provider[/model], if not --provider's" };
        var verifyModel = new Option<string?>("--verify-model") { Description = "The verifier's model" };
        var verify = new Option<string?>("--verify") { Description = "Ask a fresh verifier agent this after each iteration; it answers with a JSON verdict" };
        var verifyCheck = new Option<string[]>("--verify-check") { Description = "A shell command that must exit 0 (repeatable; run in order in the current directory)", AllowMultipleArgumentsPerToken = false };
        var archive = new Option<bool>("--archive") { Description = "Keep each worker and verifier as an archived agent instead of deleting it" };
        var name = new Option<string?>("--name") { Description = "A name for the loop" };
        var sleep = new Option<string?>("--sleep") { Description = "Pause between iterations: 30s, 5m" };
        var maxIterations = new Option<string?>("--max-iterations") { Description = "Fail after this many iterations" };
        var maxTime = new Option<string?>("--max-time") { Description = "Fail when this long has passed (checked between iterations and while sleeping): 1h, 90m" };
        var loopCwd = new Option<string?>("--cwd") { Description = "Where the workers, verifiers and checks run (default: the current directory)" };
        var run = Make("run", "Run a loop: a fresh worker per iteration until the checks and the verifier pass",
            (pr, c, _) => commands.RunAsync(c, new Loops.LoopCommands.RunOptions(pr.GetValue(prompt)!, pr.GetValue(provider), pr.GetValue(model), pr.GetValue(workerProvider),
                pr.GetValue(workerModel), pr.GetValue(verifyProvider), pr.GetValue(verifyModel), pr.GetValue(verify), pr.GetValue(verifyCheck) ?? [], pr.GetValue(archive),
                pr.GetValue(name), pr.GetValue(sleep), pr.GetValue(maxIterations), pr.GetValue(maxTime), pr.GetValue(loopCwd))),
            prompt, provider, model, workerProvider, workerModel, verifyProvider, verifyModel, verify, verifyCheck, archive, name, sleep, maxIterations, maxTime, loopCwd);
        var ls = Make("ls", "List loops (newest first)", (pr, c, _) => commands.ListAsync(c));
        var inspectId = Id();
        var inspect = Make("inspect", "Show a loop and its iterations", (pr, c, _) => commands.InspectAsync(c, pr.GetValue(inspectId)!), inspectId);
        var logsId = Id();
        var pollInterval = new Option<string?>("--poll-interval") { Description = "Milliseconds between polls while the loop runs (default 1000)" };
        var logs = Make("logs", "Print a loop's log, following it until the loop ends",
            (pr, c, ct) => commands.LogsAsync(c, pr.GetValue(logsId)!, pr.GetValue(pollInterval), ct), logsId, pollInterval);
        var stopId = Id();
        var stop = Make("stop", "Stop a running loop (its agent is closed, a running check killed)", (pr, c, _) => commands.StopAsync(c, pr.GetValue(stopId)!), stopId);
        return new Command("loop", "Run iterative worker loops") { run, ls, inspect, logs, stop };
    }

    public Command Worktree()
    {
        var lsCwd = new Option<string?>("--cwd") { Description = "A directory of the repository (default: the current one)" };
        var ls = Make("ls", "List Paseo's worktrees of a repository", (pr, c, _) => _commands.WorktreeListAsync(c, pr.GetValue(lsCwd)), lsCwd);
        var name = new Argument<string?>("name") { Description = "Worktree (and branch) name; default: a generated one", Arity = ArgumentArity.ZeroOrOne };
        var createCwd = new Option<string?>("--cwd") { Description = "A directory of the repository (default: the current one)" };
        var baseBranch = new Option<string?>("--base") { Description = "Branch off this branch (default: the repository's default branch)" };
        var create = Make("create", "Create a Paseo worktree on a new branch, and run its paseo.json setup",
            (pr, c, ct) => _commands.WorktreeCreateAsync(c, pr.GetValue(name), pr.GetValue(createCwd), pr.GetValue(baseBranch), ct), name, createCwd, baseBranch);
        var target = new Argument<string>("name") { Description = "Worktree path, or its branch name in the --cwd repository" };
        var archiveCwd = new Option<string?>("--cwd") { Description = "A directory of the repository (default: the current one)" };
        var force = new Option<bool>("--force") { Description = "Archive even with uncommitted changes (they are lost)" };
        var archive = Make("archive", "Tear down and remove a Paseo worktree (its agents are deleted)",
            (pr, c, _) => _commands.WorktreeArchiveAsync(c, pr.GetValue(target)!, pr.GetValue(archiveCwd), pr.GetValue(force)), target, archiveCwd, force);
        return new Command("worktree", "Paseo worktrees") { ls, create, archive };
    }

    public Command Terminal()
    {
        var lsCwd = new Option<string?>("--cwd") { Description = "Only the terminals of this directory (default: all)" };
        var ls = Make("ls", "List the daemon's terminals", (pr, c, _) => _commands.TerminalListAsync(c, pr.GetValue(lsCwd)), lsCwd);
        var createCwd = new Option<string?>("--cwd") { Description = "Working directory (default: the current one)" };
        var name = new Option<string?>("--name") { Description = "Terminal name (default: Terminal <n>)" };
        var command = new Argument<string[]>("command") { Description = "Program and arguments to run instead of the shell (after --)", Arity = ArgumentArity.ZeroOrMore };
        var create = Make("create", "Start a terminal (a shell, or the command after --) in the daemon",
            (pr, c, _) => _commands.TerminalCreateAsync(c, pr.GetValue(createCwd), pr.GetValue(name), pr.GetValue(command) ?? []), createCwd, name, command);
        Argument<string> Target() => new("id") { Description = "Terminal id (or a unique prefix)" };
        var killId = Target();
        var kill = Make("kill", "End a terminal and its program", (pr, c, _) => _commands.TerminalKillAsync(c, pr.GetValue(killId)!), killId);
        var captureId = Target();
        var start = new Option<int?>("--start") { Description = "First row (0-based; negative counts from the end)" };
        var end = new Option<int?>("--end") { Description = "Last row, inclusive (negative counts from the end)" };
        var ansi = new Option<bool>("--ansi") { Description = "Keep colours and styles as escape sequences" };
        var capture = Make("capture", "Print a terminal's scrollback and screen as text",
            (pr, c, _) => _commands.TerminalCaptureAsync(c, pr.GetValue(captureId)!, pr.GetValue(start), pr.GetValue(end), pr.GetValue(ansi)), captureId, start, end, ansi);
        var keysId = Target();
        var keys = new Argument<string>("keys") { Description = "Text to type" };
        var enter = new Option<bool>("--enter") { Description = "Press Enter after the text" };
        var sendKeys = Make("send-keys", "Type text into a terminal",
            (pr, c, _) => _commands.TerminalSendKeysAsync(c, pr.GetValue(keysId)!, pr.GetValue(keys)!, pr.GetValue(enter)), keysId, keys, enter);
        var attachId = Target();
        var attach = Make("attach", "Attach this TTY to a terminal (on the daemon's machine; detach with Ctrl-b d)",
            (pr, c, _) => _commands.TerminalAttachAsync(c, pr.GetValue(attachId)!), attachId);
        return new Command("terminal", "The daemon's terminals") { ls, create, kill, capture, sendKeys, attach };
    }

    public Command Permit()
    {
        var lsId = OptionalId();
        var ls = Make("ls", "List pending permission requests", (pr, c, _) => _commands.PermitListAsync(c, pr.GetValue(lsId)), lsId);

        Command Answer(bool allow)
        {
            var agent = Id();
            var requestId = new Argument<string?>("request-id") { Description = "The permission request (default: the agent's only pending one)", Arity = ArgumentArity.ZeroOrOne };
            var all = new Option<bool>("--all") { Description = "Every pending request of the agent" };
            var symbols = new List<Symbol> { agent, requestId, all };
            var input = new Option<string?>("--input") { Description = "Run the tool with this input instead (JSON object)" };
            var message = new Option<string?>("--message") { Description = "Tell the agent why" };
            var interrupt = new Option<bool>("--interrupt") { Description = "Also stop the agent's turn" };
            if (allow) symbols.Add(input);
            else symbols.AddRange([message, interrupt]);
            return Make(allow ? "allow" : "deny", allow ? "Allow a pending permission request" : "Deny a pending permission request",
                (pr, c, _) => _commands.PermitAsync(c, pr.GetValue(agent)!, pr.GetValue(requestId), pr.GetValue(all), allow,
                    allow ? pr.GetValue(input) : null, allow ? null : pr.GetValue(message), !allow && pr.GetValue(interrupt)),
                [.. symbols]);
        }

        return new Command("permit", "Answer agents' permission requests") { ls, Answer(allow: true), Answer(allow: false) };
    }

    public Command Provider()
    {
        var ls = Make("ls", "List providers and whether they are available", (_, c, _) => _commands.ProviderListAsync(c));
        var provider = new Argument<string>("provider") { Description = "Provider id" };
        var thinking = new Option<bool>("--thinking") { Description = "Accepted for Paseo compatibility" };
        var modelsCwd = new Option<string?>("--cwd") { Description = "The project whose configuration counts (OpenCode reads its opencode.json there)" };
        var models = Make("models", "List a provider's models", (pr, c, _) => _commands.ProviderModelsAsync(c, pr.GetValue(provider)!, pr.GetValue(modelsCwd)), provider, thinking, modelsCwd);
        return new Command("provider", "Agent providers") { ls, models };
    }
}
