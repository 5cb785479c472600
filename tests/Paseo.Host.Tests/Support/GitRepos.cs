using System.Diagnostics;

namespace Paseo.Host.Tests.Support;

/// <summary>Real git repositories made in temp folders with the real git (a Debian package ./build.sh installs when missing).</summary>
public static class GitRepos
{
    /// <summary>
    /// A test that needs git starts here: without it the test is reported skipped with the reason, and under CI=true it
    /// fails (./build.sh test installs git).
    /// </summary>
    public static void Require() => Prerequisites.RequireProgram("git");

    /// <summary>Runs git in <paramref name="cwd"/> with a fixed identity; a failure fails the test with git's words.</summary>
    public static string Git(string cwd, params string[] args)
    {
        var psi = new ProcessStartInfo("git") { WorkingDirectory = cwd, RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var arg in args) psi.ArgumentList.Add(arg);
        psi.Environment["GIT_AUTHOR_NAME"] = psi.Environment["GIT_COMMITTER_NAME"] = "Paseo Test";
        psi.Environment["GIT_AUTHOR_EMAIL"] = psi.Environment["GIT_COMMITTER_EMAIL"] = "test@paseo.invalid";
        psi.Environment["GIT_CONFIG_NOSYSTEM"] = "1";
        psi.Environment["LC_ALL"] = "C";
        using var process = Process.Start(psi)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        process.WaitForExit();
        if (process.ExitCode != 0) throw new InvalidOperationException($"git {string.Join(' ', args)} failed in {cwd}: {stderr.Result}");
        return stdout.Result;
    }

    /// <summary>A new repository at <paramref name="path"/> on <paramref name="branch"/> with one commit (README.md).</summary>
    public static string Init(string path, string branch = "main", string? origin = null)
    {
        Directory.CreateDirectory(path);
        Git(path, "init", "-q", "-b", branch);
        Git(path, "config", "user.name", "Paseo Test");
        Git(path, "config", "user.email", "test@paseo.invalid");
        Git(path, "config", "commit.gpgsign", "false");
        File.WriteAllText(Path.Combine(path, "README.md"), "hello\n");
        Git(path, "add", "-A");
        Git(path, "commit", "-q", "-m", "first");
        if (origin is not null) Git(path, "remote", "add", "origin", origin);
        return path;
    }

    /// <summary>A clone of <paramref name="origin"/> at <paramref name="target"/>, with the test identity.</summary>
    public static string Clone(string origin, string target)
    {
        Git(Path.GetDirectoryName(target)!, "clone", "-q", origin, target);
        Git(target, "config", "user.name", "Paseo Test");
        Git(target, "config", "user.email", "test@paseo.invalid");
        return target;
    }

    /// <summary>A bare repository at <paramref name="origin"/> made from <paramref name="seed"/>, and a clone of it at <paramref name="clone"/>.</summary>
    public static string CloneWithOrigin(string seed, string origin, string clone)
    {
        Git(Path.GetDirectoryName(origin)!, "clone", "-q", "--bare", seed, origin);
        return Clone(origin, clone);
    }

    public static void Commit(string repo, string file, string content, string message = "change")
    {
        File.WriteAllText(Path.Combine(repo, file), content);
        Git(repo, "add", "-A");
        Git(repo, "commit", "-q", "-m", message);
    }
}
