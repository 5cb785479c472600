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

    // Paseo searches a year ahead, which misses a Friday the 13th 14 months away (`0 0 13 * 5` after 2027-08-13);
    // five years finds every such day and still fails an expression that never matches (`0 0 31 2 *`) at create.
    private static readonly TimeSpan SearchWindow = TimeSpan.FromDays(5 * 366);

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
        try
        {
            return new CronCadence(CronExpression.Parse(string.Join(' ', normalized), CronFormat.Standard), days, zone, text);
        }
        catch (CronFormatException e)
        {
            throw new ScheduleException($"Invalid cron expression: {e.Message}");
        }
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

    /// <summary>One field, checked as Paseo checks it, as Cronos reads it: "*" when it covers every value, else the values listed one by one (so a step Cronos would refuse, such as */60, means what it means to Paseo).</summary>
    private static string Field(string field, string name, int min, int max)
    {
        var values = new SortedSet<int>();
        foreach (var part in field.Split(','))
        {
            if (part.Length == 0) throw new ScheduleException($"Invalid cron {name} field");
            var slash = part.IndexOf('/');
            var (baseText, step) = slash < 0 ? (part, 1) : (part[..slash], LeadingInt(part[(slash + 1)..]) ?? 0);
            if (step < 1) throw new ScheduleException($"Invalid cron {name} step");
            if (baseText == "*")
            {
                for (var v = min; v <= max; v += step) values.Add(v);
                continue;
            }
            var dash = baseText.IndexOf('-');
            if (dash > 0 && baseText[..dash].All(char.IsAsciiDigit) && baseText[(dash + 1)..] is { Length: > 0 } high && high.All(char.IsAsciiDigit))
            {
                if (Digits(baseText[..dash]) is not { } a || Digits(high) is not { } b || a > b || a < min || b > max)
                    throw new ScheduleException($"Invalid cron {name} range");
                for (var v = a; v <= b; v += step) values.Add(v);
                continue;
            }
            // One value, read like JavaScript's parseInt (leading digits); a step on it is checked, then ignored.
            if (LeadingInt(baseText) is not { } value || value < min || value > max) throw new ScheduleException($"Invalid cron {name} value");
            values.Add(value);
        }
        return values.Count == max - min + 1 ? "*" : string.Join(',', values);
    }

    /// <summary>The values a normalized field lists.</summary>
    private static List<int> Expand(string field, int min, int max) =>
        field == "*" ? [.. Enumerable.Range(min, max - min + 1)] : [.. field.Split(',').Select(v => int.Parse(v, CultureInfo.InvariantCulture))];

    /// <summary>A number of digits only (leading zeros allowed), or null when it does not fit.</summary>
    private static int? Digits(string text) => int.TryParse(text.TrimStart('0') is { Length: > 0 } t ? t : "0", NumberStyles.None, CultureInfo.InvariantCulture, out var n) ? n : null;

    /// <summary>JavaScript's parseInt on a field part: an optional sign, then the leading digits; null when there are none.</summary>
    private static int? LeadingInt(string text)
    {
        var sign = text.Length > 0 && text[0] is '+' or '-' ? 1 : 0;
        var digits = 0;
        while (sign + digits < text.Length && char.IsAsciiDigit(text[sign + digits])) digits++;
        if (digits == 0) return null;
        // Too large for a field is out of range all the same.
        var value = Digits(text.Substring(sign, digits)) ?? int.MaxValue;
        return text[0] == '-' ? -value : value;
    }
}

/// <summary>The next run of a cadence.</summary>
public static class CadenceTimes
{
    /// <summary>Ten years: beyond it an interval would overflow the times it is added to.</summary>
    public const long MaxEveryMs = 3650L * 86_400_000;

    /// <summary>
    /// The first slot strictly after <paramref name="after"/>: for an interval, <paramref name="phase"/> plus whole
    /// multiples of it (so the schedule keeps its phase); for cron, the expression's next match.
    /// </summary>
    public static DateTimeOffset Next(Cadence cadence, DateTimeOffset phase, DateTimeOffset after) => cadence switch
    {
        Cadence.Every every when every.EveryMs <= 0 => throw new ScheduleException("The interval must be above zero"),
        Cadence.Every every when every.EveryMs > MaxEveryMs => throw new ScheduleException($"The interval is longer than {MaxEveryMs / 86_400_000} days"),
        Cadence.Every every => after < phase ? phase
            : phase + TimeSpan.FromMilliseconds(every.EveryMs * ((long)Math.Floor((after - phase).TotalMilliseconds / every.EveryMs) + 1)),
        Cadence.Cron cron => CronCadence.Parse(cron.Expression, cron.TimeZone).Next(after),
        _ => throw new ArgumentOutOfRangeException(nameof(cadence)),
    };
}
