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
}
