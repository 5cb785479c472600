using System.Text.Json.Nodes;
using Akka.Actor;

namespace Paseo.Actors.Terminals;

/// <summary>What a client sees of a terminal (app-workspaces.md §5.1): id, name, the cwd string it was created with, its title.</summary>
/// <param name="Script">The workspace script it runs (not on the wire).</param>
/// <param name="ExitCode">A script's terminal found at start whose script had finished: its exit status (not on the wire).</param>
public sealed record TerminalInfo(string Id, string Name, string Cwd, string? Title, Paseo.Transport.Terminals.ScriptTag? Script = null, int? ExitCode = null)
{
    /// <summary>The list entry of list_terminals / terminals_changed: `{id, name, title?}`.</summary>
    public JsonObject ToListJson()
    {
        var json = new JsonObject { ["id"] = Id, ["name"] = Name };
        if (!string.IsNullOrEmpty(Title)) json["title"] = Title;
        return json;
    }

    /// <summary>create_terminal_response's `terminal`: `{id, name, cwd, title?}`.</summary>
    public JsonObject ToJson()
    {
        var json = new JsonObject { ["id"] = Id, ["name"] = Name, ["cwd"] = Cwd };
        if (!string.IsNullOrEmpty(Title)) json["title"] = Title;
        return json;
    }
}

/// <summary>The messages of the terminals subsystem (`terminals` and its `terminal-&lt;id&gt;` children).</summary>
public static class TerminalProtocol
{
    /// <summary>To `terminals`: start a terminal; answered <see cref="Created"/> or <see cref="CreateFailed"/>.</summary>
    /// <param name="Command">argv of the program (no shell), or null for the default shell.</param>
    /// <param name="PresetTitle">A fixed title (a workspace script's terminal); null: the title follows the program.</param>
    /// <param name="Script">A workspace script's terminal, running <see cref="Paseo.Transport.Terminals.ScriptTag.Command"/> (see <see cref="TerminalProgramExited"/>).</param>
    /// <param name="TypeOnceReady">Keys typed into the terminal once it shows output (its prompt), or after 1.5 s (app-workspaces.md §4.2).</param>
    public sealed record CreateTerminal(string Cwd, string? Name, IReadOnlyList<string>? Command, string? PresetTitle = null,
        IReadOnlyDictionary<string, string>? Environment = null, Paseo.Transport.Terminals.ScriptTag? Script = null, string? TypeOnceReady = null);

    /// <summary>To `terminals`: run a command again in a script's terminal; answered <see cref="Created"/> or <see cref="CreateFailed"/>.</summary>
    public sealed record RespawnTerminal(string TerminalId, IReadOnlyList<string> Command, IReadOnlyDictionary<string, string> Environment);

    /// <summary>Published: the script of a script's terminal finished with this status; the terminal stays, showing its output.</summary>
    public sealed record TerminalProgramExited(string TerminalId, int? ExitCode);

    /// <summary>Published: a terminal is gone (exited or killed).</summary>
    public sealed record TerminalEnded(string TerminalId);

    public sealed record Created(TerminalInfo Terminal);

    public sealed record CreateFailed(string Error);

    /// <summary>To `terminals`: the terminals of one cwd string (null: all); answered <see cref="TerminalList"/>.</summary>
    public sealed record ListTerminals(string? Cwd);

    public sealed record TerminalList(IReadOnlyList<TerminalInfo> Terminals);

    /// <summary>To `terminals`: end a terminal; answered <see cref="Killed"/> (Existed false: there was none).</summary>
    public sealed record KillTerminal(string TerminalId);

    public sealed record Killed(string TerminalId, bool Existed);

    /// <summary>To `terminals`: a terminal's rows as text (§5.2); answered <see cref="Captured"/> (no lines for an unknown terminal).</summary>
    public sealed record CaptureTerminal(string TerminalId, int? Start, int? End, bool StripAnsi);

    public sealed record Captured(string TerminalId, IReadOnlyList<string> Lines, int TotalLines);

    /// <summary>To `terminals`: tell <paramref name="Watcher"/> <see cref="TerminalsChanged"/> for this cwd string now and after every change.</summary>
    public sealed record WatchDirectory(string Cwd, IActorRef Watcher);

    public sealed record UnwatchDirectory(string Cwd, IActorRef Watcher);

    public sealed record TerminalsChanged(string Cwd, IReadOnlyList<TerminalInfo> Terminals);

    /// <summary>
    /// To `terminals`: attach <paramref name="Subscriber"/> to a terminal's stream. It is told <see cref="StreamAttached"/>
    /// (or <see cref="AttachFailed"/>), then a <see cref="TerminalSnapshot"/>, then <see cref="TerminalOutput"/> for what is
    /// written after the snapshot, until <see cref="TerminalExited"/> or it detaches. Attaching again sends a new snapshot.
    /// </summary>
    public sealed record AttachStream(string TerminalId, IActorRef Subscriber);

    public sealed record StreamAttached(string TerminalId, IActorRef Terminal);

    public sealed record AttachFailed(string TerminalId, string Error);

    public sealed record DetachStream(string TerminalId, IActorRef Subscriber);

    /// <summary>A TerminalState (§5.5) as UTF-8 JSON, the payload of a Snapshot frame.</summary>
    public sealed record TerminalSnapshot(string TerminalId, byte[] State);

    /// <summary>Bytes the terminal's program wrote, in order.</summary>
    public sealed record TerminalOutput(string TerminalId, byte[] Bytes);

    /// <summary>The terminal ended (its program exited, or it was killed).</summary>
    public sealed record TerminalExited(string TerminalId);

    /// <summary>To `terminals` (or straight to an attached terminal): bytes for the program (keys, paste).</summary>
    public sealed record TerminalInput(string TerminalId, byte[] Bytes);

    /// <summary>To `terminals` (or an attached terminal): a new size; <paramref name="EvenIfUnchanged"/> for a Resize frame (§5.5).</summary>
    public sealed record TerminalResize(string TerminalId, int Rows, int Cols, bool EvenIfUnchanged);
}
