namespace Paseo.Bench;

/// <summary>CPU time a process has used so far, as Linux accounts it (/proc/&lt;pid&gt;/stat: user + system, 10 ms ticks).</summary>
internal static class ProcessCpu
{
    public static TimeSpan Of(int pid)
    {
        var stat = File.ReadAllText($"/proc/{pid}/stat");
        var fields = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
        // utime and stime are fields 14 and 15 of /proc/pid/stat (11 and 12 after the command name), in clock ticks (100 Hz).
        return TimeSpan.FromMilliseconds((long.Parse(fields[11]) + long.Parse(fields[12])) * 10);
    }
}
