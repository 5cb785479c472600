using System.Text;
using System.Text.RegularExpressions;

namespace Paseo.Transport.Chat;

/// <summary>
/// `@mentions` in a chat message (app-orchestration.md §1.5): which tokens a body holds, and the prompt a mentioned agent
/// is sent.
/// </summary>
public static partial class ChatMentions
{
    /// <summary>The literal token that mentions every agent.</summary>
    public const string Everyone = "everyone";

    // An @ at the start or after whitespace or "(", then [A-Za-z0-9] and any of [A-Za-z0-9._-] (trailing dots included).
    [GeneratedRegex(@"(?<=^|[\s(])@([A-Za-z0-9][A-Za-z0-9._-]*)")]
    private static partial Regex Token();

    // A token at the start or after whitespace (that whitespace kept), removed from the body shown in the notification.
    [GeneratedRegex(@"(^|\s)@[A-Za-z0-9][A-Za-z0-9._-]*")]
    private static partial Regex TokenWithSpace();

    /// <summary>The distinct tokens of <paramref name="body"/>, sorted by code unit (as stored in mentionAgentIds).</summary>
    public static IReadOnlyList<string> Parse(string body) =>
        Token().Matches(body).Select(m => m.Groups[1].Value).Distinct().Order(StringComparer.Ordinal).ToList();

    /// <summary>
    /// The prompt each mentioned agent gets: who wrote, in which room (the selector as the poster sent it), whom it
    /// mentions, the body without its mention tokens, and how to read the room.
    /// </summary>
    public static string Notification(string author, string roomSelector, IReadOnlyList<string> targets, string body)
    {
        var stripped = TokenWithSpace().Replace(body, "$1").Trim();
        var text = new StringBuilder();
        text.Append("Chat mention from ").Append(author).Append(" in room \"").Append(roomSelector).Append("\".\n");
        text.Append("Mentioned agents: ").Append(string.Join(", ", targets.Select(t => "@" + t))).Append(".\n");
        text.Append("Message:\n").Append(stripped.Length > 0 ? stripped : body).Append('\n');
        text.Append("Read the room with: paseo chat read ").Append(roomSelector).Append(" --limit 20");
        return text.ToString();
    }
}
