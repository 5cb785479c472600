using System.Globalization;

namespace Paseo.Transport.Files;

/// <summary>Timestamps as Paseo writes them (JavaScript's Date.toISOString): UTC with milliseconds, e.g. 2026-01-01T00:00:00.000Z.</summary>
public static class IsoTime
{
    public static string Format(DateTimeOffset time) =>
        time.UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss.fff'Z'", CultureInfo.InvariantCulture);

    /// <summary>An ISO 8601 time (a value without an offset is UTC).</summary>
    public static bool TryParse(string? value, out DateTimeOffset time) =>
        DateTimeOffset.TryParse(value, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal, out time);
}
