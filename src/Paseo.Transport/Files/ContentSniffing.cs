namespace Paseo.Transport.Files;

/// <summary>Whether a file's first bytes look binary: the one test behind the file explorer, downloads and diffs (app-workspaces.md §3.3, §6.1).</summary>
public static class ContentSniffing
{
    /// <summary>A NUL byte, or more than 30 % control bytes other than tab, newline and carriage return.</summary>
    public static bool LooksBinary(ReadOnlySpan<byte> head)
    {
        if (head.Length == 0) return false;
        var control = 0;
        foreach (var b in head)
        {
            if (b == 0) return true;
            if (b < 32 && b is not (9 or 10 or 13)) control++;
        }
        return control * 10 > head.Length * 3;
    }
}
