using System.Globalization;
using Cronos;

namespace Paseo.Transport.Schedules;

/// <summary>A schedule request that failed: the rpc_error text (code `schedule_request_failed`, app-orchestration.md §2.7).</summary>
public sealed class ScheduleException(string message) : Exception(message);

/// <summary>When a schedule runs (app-orchestration.md §2.1): a fixed interval, or a 5-field cron expression in a time zone.</summary>
public abstract record Cadence
{
    /// <summary>Every <paramref name="EveryMs"/> milliseconds, in phase with the schedule's creation.</summary>
    public sealed record Every(long EveryMs) : Cadence;

    /// <summary>A cron expression, evaluated in <paramref name="TimeZone"/> (an IANA id; null: UTC, as Paseo, which has no zones).</summary>
    public sealed record Cron(string Expression, string? TimeZone) : Cadence;
}

/// <summary>
/// A cron expression read exactly as Paseo reads it (§2.3: the same fields, ranges, steps and error texts, so Paseo's
/// schedules carry over), then evaluated by Cronos in the schedule's time zone. Two of Paseo's readings are kept on
/// purpose: a step on a single value is checked and then ignored (`5/10` is minute 5), and day-of-month and
/// day-of-week are ANDed when both are restricted (`0 0 13 * 5` is Friday the 13th), where classic cron ORs them — a
/// schedule moved from Paseo must fire on the same days.
/// </summary>
public sealed class CronCadence
{
    private static readonly (string Name, int Min, int Max)[] Fields =
        [("minute", 0, 59), ("hour", 0, 23), ("day-of-month", 1, 31), ("month", 1, 12), ("day-of-week", 0, 6)];

    // Paseo searches a year ahead for a match; so does this (a never-matching expression fails create).
    private static readonly TimeSpan SearchWindow = TimeSpan.FromDays(366);

    private readonly CronExpression _expression;
    private readonly HashSet<DayOfWeek>? _daysOfWeek; // set when both day fields are restricted (ANDed here)
    private readonly TimeZoneInfo _zone;
    private readonly string _text;

    private CronCadence(CronExpression expression, HashSet<DayOfWeek>? daysOfWeek, TimeZoneInfo zone, string text)
    {
        _expression = expression;
        _daysOfWeek = daysOfWeek;
        _zone = zone;
        _text = text;
    }

    /// <summary>Reads <paramref name="expression"/> (§2.3); a bad one throws with Paseo's message.</summary>
    public static CronCadence Parse(string expression, string? timeZone = null)
    {
        var zone = Zone(timeZone);
        var text = expression.Trim();
        var fields = text.Split((char[]?)null, StringSplitOptions.RemoveEmptyEntries);
        if (fields.Length != 5) throw new ScheduleException("Cron expressions must have 5 fields");
        var normalized = new string[5];
        for (var i = 0; i < 5; i++) normalized[i] = Field(fields[i], Fields[i].Name, Fields[i].Min, Fields[i].Max);
        HashSet<DayOfWeek>? days = null;
        if (normalized[2] != "*" && normalized[4] != "*")
        {
            // ANDed: Cronos finds the days of the month, the weekday is checked here.
            days = Expand(normalized[4], 0, 6).Select(d => (DayOfWeek)d).ToHashSet();
            normalized[4] = "*";
        }
        return new CronCadence(CronExpression.Parse(string.Join(' ', normalized), CronFormat.Standard), days, zone, text);
    }

    /// <summary>The first time strictly after <paramref name="after"/> that matches (a whole minute), or an error if none within a year.</summary>
    public DateTimeOffset Next(DateTimeOffset after)
    {
        var from = after;
        var limit = after + SearchWindow;
        while (_expression.GetNextOccurrence(from, _zone) is { } next && next <= limit)
        {
            if (_daysOfWeek is null || _daysOfWeek.Contains(TimeZoneInfo.ConvertTime(next, _zone).DayOfWeek)) return next;
            from = next;
        }
        throw new ScheduleException($"Unable to compute next run time for cron expression: {_text}");
    }

    /// <summary>A time zone by IANA id (the cadence's `timeZone`); null is UTC.</summary>
    public static TimeZoneInfo Zone(string? id)
    {
        if (id is null) return TimeZoneInfo.Utc;
        try
        {
            return TimeZoneInfo.FindSystemTimeZoneById(id.Trim());
        }
        catch (Exception e) when (e is TimeZoneNotFoundException or InvalidTimeZoneException or ArgumentException)
        {
            throw new ScheduleException($"Unknown time zone: {id} (an IANA name such as Europe/Paris)");
        }
    }

    /// <summary>One field as Cronos reads it, checked as Paseo checks it.</summary>
    private static string Field(string field, string name, int min, int max)
    {
        var parts = new List<string>();
        foreach (var part in field.Split(','))
        {
            if (part.Length == 0) throw new ScheduleException($"Invalid cron {name} field");
            var slash = part.IndexOf('/');
            var (baseText, step) = slash < 0 ? (part, 1) : (part[..slash], LeadingInt(part[(slash + 1)..]) ?? 0);
            if (step < 1) throw new ScheduleException($"Invalid cron {name} step");
            if (baseText == "*")
            {
                parts.Add(step == 1 ? "*" : $"{min}-{max}/{step}");
                continue;
            }
            var dash = baseText.IndexOf('-');
            if (dash > 0 && baseText[..dash].All(char.IsAsciiDigit) && baseText[(dash + 1)..] is { Length: > 0 } high && high.All(char.IsAsciiDigit))
            {
                var a = int.Parse(baseText[..dash], CultureInfo.InvariantCulture);
                var b = int.Parse(high, CultureInfo.InvariantCulture);
                if (a > b || a < min || b > max) throw new ScheduleException($"Invalid cron {name} range");
                parts.Add(step == 1 ? $"{a}-{b}" : $"{a}-{b}/{step}");
                continue;
            }
            // One value, read like JavaScript's parseInt (leading digits); a step on it is checked, then ignored.
            if (LeadingInt(baseText) is not { } value || value < min || value > max) throw new ScheduleException($"Invalid cron {name} value");
            parts.Add(value.ToString(CultureInfo.InvariantCulture));
        }
        // A field that covers every value is "*": what Cronos (and the day AND rule above) treat as unrestricted.
        var list = string.Join(',', parts);
        return list == "*" || Expand(list, min, max).Count == max - min + 1 ? "*" : list;
    }

    /// <summary>The values a normalized field lists.</summary>
    private static List<int> Expand(string field, int min, int max)
    {
        var values = new SortedSet<int>();
        foreach (var part in field.Split(','))
        {
            if (part == "*")
            {
                for (var v = min; v <= max; v++) values.Add(v);
                continue;
            }
            var slash = part.IndexOf('/');
            var step = slash < 0 ? 1 : int.Parse(part[(slash + 1)..], CultureInfo.InvariantCulture);
            var range = slash < 0 ? part : part[..slash];
            var dash = range.IndexOf('-');
            var (a, b) = dash < 0 ? (int.Parse(range, CultureInfo.InvariantCulture), int.Parse(range, CultureInfo.InvariantCulture))
                : (int.Parse(range[..dash], CultureInfo.InvariantCulture), int.Parse(range[(dash + 1)..], CultureInfo.InvariantCulture));
            for (var v = a; v <= b; v += step) values.Add(v);
        }
        return [.. values];
    }

    /// <summary>JavaScript's parseInt on a field part: the leading digits, or null when there are none.</summary>
    private static int? LeadingInt(string text)
    {
        var digits = 0;
        while (digits < text.Length && char.IsAsciiDigit(text[digits])) digits++;
        return digits == 0 || digits > 9 ? null : int.Parse(text[..digits], CultureInfo.InvariantCulture);
    }
}

/// <summary>The next run of a cadence.</summary>
public static class CadenceTimes
{
    /// <summary>
    /// The first slot strictly after <paramref name="after"/>: for an interval, <paramref name="phase"/> plus whole
    /// multiples of it (so the schedule keeps its phase); for cron, the expression's next match.
    /// </summary>
    public static DateTimeOffset Next(Cadence cadence, DateTimeOffset phase, DateTimeOffset after) => cadence switch
    {
        Cadence.Every every when every.EveryMs <= 0 => throw new ScheduleException("The interval must be above zero"),
        Cadence.Every every => after < phase ? phase
            : phase + TimeSpan.FromMilliseconds(every.EveryMs * ((long)Math.Floor((after - phase).TotalMilliseconds / every.EveryMs) + 1)),
        Cadence.Cron cron => CronCadence.Parse(cron.Expression, cron.TimeZone).Next(after),
        _ => throw new ArgumentOutOfRangeException(nameof(cadence)),
    };
}
