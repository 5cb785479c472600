using Paseo.Transport.Schedules;

namespace Paseo.Transport.Tests.Schedules;

/// <summary>Cadences (app-orchestration.md §2.3): Paseo's cron syntax and errors, its examples, its AND of the day fields, time zones across a DST change, and intervals that keep their phase.</summary>
public sealed class CronCadenceTests
{
    private static DateTimeOffset T(string iso) => DateTimeOffset.Parse(iso, System.Globalization.CultureInfo.InvariantCulture);

    [Theory]
    [InlineData("0 9 * * *", "2026-05-03T08:59:59.999Z", "2026-05-03T09:00:00Z")]
    [InlineData("0 9 * * *", "2026-05-03T09:00:00.000Z", "2026-05-04T09:00:00Z")]
    [InlineData("*/15 * * * *", "2026-05-03T07:00:00Z", "2026-05-03T07:15:00Z")]
    [InlineData("0-59/20 1,2 * * *", "2026-05-03T07:00:00Z", "2026-05-04T01:00:00Z")]
    // Day-of-month AND day-of-week, as Paseo: Friday the 13th, not every Friday and every 13th.
    [InlineData("0 0 13 * 5", "2026-05-03T00:00:00Z", "2026-11-13T00:00:00Z")]
    // A step on one value is checked, then ignored: minute 5 only.
    [InlineData("5/10 * * * *", "2026-05-03T07:06:00Z", "2026-05-03T08:05:00Z")]
    // One value read like parseInt: 5abc is 5.
    [InlineData("5abc * * * *", "2026-05-03T07:00:00Z", "2026-05-03T07:05:00Z")]
    [InlineData("  0   12 * * 0  ", "2026-05-03T13:00:00Z", "2026-05-10T12:00:00Z")]
    // A step past the field's range still means its first value (Cronos itself refuses */60).
    [InlineData("*/60 * * * *", "2026-05-03T07:00:00Z", "2026-05-03T08:00:00Z")]
    [InlineData("+5 * * * *", "2026-05-03T07:00:00Z", "2026-05-03T07:05:00Z")]
    // The next Friday the 13th after August 2027 is 14 months away (Paseo's one-year search misses it).
    [InlineData("0 0 13 * 5", "2027-08-13T00:00:00Z", "2028-10-13T00:00:00Z")]
    public void The_specs_examples_come_next(string expression, string after, string next) =>
        Assert.Equal(T(next), CronCadence.Parse(expression).Next(T(after)));

    [Theory]
    [InlineData("* * * *", "Cron expressions must have 5 fields")]
    [InlineData("* * * * * *", "Cron expressions must have 5 fields")]
    [InlineData("60 * * * *", "Invalid cron minute value")]
    [InlineData("1,,2 * * * *", "Invalid cron minute field")]
    [InlineData("*/0 * * * *", "Invalid cron minute step")]
    [InlineData("* 5-3 * * *", "Invalid cron hour range")]
    [InlineData("* * 0 * *", "Invalid cron day-of-month value")]
    [InlineData("* * * JAN *", "Invalid cron month value")]
    [InlineData("* * * * 7", "Invalid cron day-of-week value")]
    [InlineData("* * * * MON", "Invalid cron day-of-week value")]
    [InlineData("0-9999999999 * * * *", "Invalid cron minute range")]
    [InlineData("99999999999 * * * *", "Invalid cron minute value")]
    public void A_bad_expression_fails_with_paseos_message(string expression, string message) =>
        Assert.Equal(message, Assert.Throws<ScheduleException>(() => CronCadence.Parse(expression)).Message);

    [Fact]
    public void An_expression_that_never_matches_fails_when_its_next_time_is_asked()
    {
        var e = Assert.Throws<ScheduleException>(() => CronCadence.Parse("0 0 31 2 *").Next(T("2026-05-03T00:00:00Z")));
        Assert.Equal("Unable to compute next run time for cron expression: 0 0 31 2 *", e.Message);
    }

    [Fact]
    public void A_named_time_zone_keeps_local_time_across_the_spring_and_autumn_changes()
    {
        var nine = CronCadence.Parse("0 9 * * *", "Europe/Berlin");
        // Before 29 March 2026 Berlin is UTC+1; after, UTC+2; from 25 October, UTC+1 again.
        Assert.Equal(T("2026-03-28T08:00:00Z"), nine.Next(T("2026-03-27T12:00:00Z")));
        Assert.Equal(T("2026-03-29T07:00:00Z"), nine.Next(T("2026-03-28T08:00:00Z")));
        Assert.Equal(T("2026-10-25T08:00:00Z"), nine.Next(T("2026-10-24T07:00:00Z")));
        // 02:30 does not exist on 29 March in Berlin: that day's run is at the change (03:00 local, 01:00Z).
        Assert.Equal(T("2026-03-29T01:00:00Z"), CronCadence.Parse("30 2 * * *", "Europe/Berlin").Next(T("2026-03-28T12:00:00Z")));
        Assert.Equal("Unknown time zone: Mars/Olympus (an IANA name such as Europe/Paris)",
            Assert.Throws<ScheduleException>(() => CronCadence.Parse("* * * * *", "Mars/Olympus")).Message);
    }

    [Fact]
    public void An_interval_keeps_its_phase_and_skips_the_slots_a_long_run_passed()
    {
        var every = new Cadence.Every(600_000);
        var created = T("2026-05-03T07:00:00Z");
        Assert.Equal(T("2026-05-03T07:10:00Z"), CadenceTimes.Next(every, created, created));
        // A run of the 07:10 slot that ended at 07:35: the next slot is 07:40, not 07:45.
        Assert.Equal(T("2026-05-03T07:40:00Z"), CadenceTimes.Next(every, T("2026-05-03T07:10:00Z"), T("2026-05-03T07:35:00Z")));
        Assert.Throws<ScheduleException>(() => CadenceTimes.Next(new Cadence.Every(0), created, created));
    }

    [Theory]
    [InlineData("a3f09c1e", true)]
    [InlineData("A3F09C1E", false)]
    [InlineData("../../x", false)]
    [InlineData("a3f09c1e.json", false)]
    [InlineData("", false)]
    public void Schedule_ids_are_eight_lowercase_hex_digits(string id, bool valid) => Assert.Equal(valid, Schedule.IsValidId(id));
}
