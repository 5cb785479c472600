using System.Globalization;
using Paseo.Host.Cli.Output;

namespace Paseo.Host.Cli.Agents;

/// <summary>`30s`, `5m`, `1h`, `2d`, `1500ms` or a bare number of seconds; and `--since` as a duration ago or an ISO time.</summary>
public static class Durations
{
    public static TimeSpan Parse(string value, string flag)
    {
        var text = value.Trim();
        (string number, Func<double, TimeSpan> unit) = text switch
        {
            _ when text.EndsWith("ms", StringComparison.OrdinalIgnoreCase) => (text[..^2], TimeSpan.FromMilliseconds),
            _ when text.EndsWith('s') => (text[..^1], TimeSpan.FromSeconds),
            _ when text.EndsWith('m') => (text[..^1], TimeSpan.FromMinutes),
            _ when text.EndsWith('h') => (text[..^1], TimeSpan.FromHours),
            _ when text.EndsWith('d') => (text[..^1], TimeSpan.FromDays),
            _ => (text, (Func<double, TimeSpan>)TimeSpan.FromSeconds),
        };
        if (!double.TryParse(number, NumberStyles.Float, CultureInfo.InvariantCulture, out var amount) || amount < 0 || double.IsInfinity(amount))
            throw new CliException("INVALID_DURATION", $"{flag} {value}: expected a duration such as 30s, 5m or 1h");
        try
        {
            return unit(amount);
        }
        catch (OverflowException)
        {
            throw new CliException("INVALID_DURATION", $"{flag} {value}: too long");
        }
    }

    public static DateTimeOffset Since(string value, DateTimeOffset now)
    {
        if (DateTimeOffset.TryParse(value, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal, out var at) && value.Contains('-'))
            return at;
        return now - Parse(value, "--since");
    }

    /// <summary>
    /// The durations of Paseo's chat, schedule and loop flags (app-orchestration.md §2.3): all digits are seconds;
    /// otherwise the sum of every <c>&lt;digits&gt;s|m|h</c> in the text (<c>1h30m</c>); no day unit.
    /// </summary>
    public static TimeSpan Orchestration(string value, string code)
    {
        var text = value.Trim();
        if (text.Length > 0 && text.All(char.IsAsciiDigit) && long.TryParse(text, out var seconds) && seconds <= (long)TimeSpan.MaxValue.TotalSeconds)
            return TimeSpan.FromSeconds(seconds);
        var total = TimeSpan.Zero;
        var matched = false;
        foreach (System.Text.RegularExpressions.Match m in System.Text.RegularExpressions.Regex.Matches(text, @"(\d+)([smh])"))
        {
            if (!long.TryParse(m.Groups[1].Value, out var n) || n > 1_000_000_000) throw new CliException(code, $"Invalid duration format: {value}. Use formats like: 5m, 30s, 1h, 2h30m");
            matched = true;
            total += m.Groups[2].Value switch { "s" => TimeSpan.FromSeconds(n), "m" => TimeSpan.FromMinutes(n), _ => TimeSpan.FromHours(n) };
        }
        return matched ? total : throw new CliException(code, $"Invalid duration format: {value}. Use formats like: 5m, 30s, 1h, 2h30m");
    }
}
