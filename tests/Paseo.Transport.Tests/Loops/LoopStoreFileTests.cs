using System.Text.Json.Nodes;
using Paseo.Transport.Loops;

namespace Paseo.Transport.Tests.Loops;

/// <summary>loops/loops.json (§3.5): the spec's record (§7 L.2) loads and writes back the same; the file is private and sorted; a damaged file is refused and kept.</summary>
public sealed class LoopStoreFileTests : IDisposable
{
    private readonly TempDir _dir = new();
    private string Path => System.IO.Path.Combine(_dir.Path, "loops", "loops.json");

    public void Dispose() => _dir.Dispose();

    // §7 L.2's loop, as Paseo writes it.
    private const string SpecLoop = """
        {"id":"e4b7c2d9","name":"fix-tests","prompt":"Make `npm test` pass without skipping tests.","cwd":"/home/dev/shop",
          "provider":"claude","model":"sonnet","workerProvider":null,"workerModel":null,"verifierProvider":"codex","verifierModel":"gpt-5.4",
          "verifyPrompt":"Check that no test was skipped or deleted.","verifyChecks":["npm test"],"archive":false,"sleepMs":30000,
          "maxIterations":5,"maxTimeMs":3600000,"status":"succeeded","createdAt":"2026-05-03T07:00:00.000Z","updatedAt":"2026-05-03T07:06:12.930Z",
          "startedAt":"2026-05-03T07:00:00.000Z","completedAt":"2026-05-03T07:06:12.930Z","stopRequestedAt":null,
          "iterations":[{"index":1,"workerAgentId":"a1b2c3d4-0000-4000-8000-000000000001","workerStartedAt":"2026-05-03T07:00:00.003Z","workerCompletedAt":"2026-05-03T07:05:31.118Z",
            "verifierAgentId":"a1b2c3d4-0000-4000-8000-000000000002","status":"succeeded","workerOutcome":"completed","failureReason":null,
            "verifyChecks":[{"command":"npm test","exitCode":0,"passed":true,"stdout":"Tests: 142 passed, 142 total\n","stderr":"","startedAt":"2026-05-03T07:05:31.120Z","completedAt":"2026-05-03T07:05:49.602Z"}],
            "verifyPrompt":{"passed":true,"reason":"All 142 tests ran; none skipped or removed.","verifierAgentId":"a1b2c3d4-0000-4000-8000-000000000002","startedAt":"2026-05-03T07:05:49.603Z","completedAt":"2026-05-03T07:06:12.929Z"}}],
          "logs":[
            {"seq":1,"timestamp":"2026-05-03T07:00:00.002Z","iteration":null,"source":"loop","level":"info","text":"Loop created in /home/dev/shop"},
            {"seq":2,"timestamp":"2026-05-03T07:00:00.004Z","iteration":1,"source":"loop","level":"info","text":"Starting iteration 1."},
            {"seq":3,"timestamp":"2026-05-03T07:00:41.377Z","iteration":1,"source":"worker","level":"info","text":"[Shell] npm test"},
            {"seq":9,"timestamp":"2026-05-03T07:06:12.930Z","iteration":null,"source":"loop","level":"info","text":"Iteration 1 passed verification."}],
          "nextLogSeq":10,"activeIteration":null,"activeWorkerAgentId":null,"activeVerifierAgentId":null}
        """;

    [Fact]
    public void A_missing_file_is_no_loops() => Assert.Empty(LoopStoreFile.Load(Path));

    [Fact]
    public void The_specs_record_loads_and_is_written_back_unchanged_in_a_private_file()
    {
        Directory.CreateDirectory(System.IO.Path.GetDirectoryName(Path)!);
        File.WriteAllText(Path, "[" + SpecLoop + "]");
        var loop = Assert.Single(LoopStoreFile.Load(Path));
        Assert.Equal("fix-tests", loop.Settings.Name);
        Assert.Equal(10, loop.NextLogSeq);
        Assert.Equal(0, Assert.Single(Assert.Single(loop.Iterations).VerifyChecks).ExitCode);

        LoopStoreFile.Save(Path, [loop]);
        Assert.True(JsonNode.DeepEquals(JsonNode.Parse("[" + SpecLoop + "]"), JsonNode.Parse(File.ReadAllText(Path))), File.ReadAllText(Path));
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(Path));
    }

    [Fact]
    public void Loops_are_written_oldest_first()
    {
        var settings = new LoopSettings(null, "p", "/tmp", "mock", null, null, null, null, null, null, ["true"], false, 0, null, null);
        LoopStoreFile.Save(Path, [Loop.Create("bbbbbbbb", settings, "2026-05-03T08:00:00.000Z"), Loop.Create("aaaaaaaa", settings, "2026-05-03T07:00:00.000Z")]);
        Assert.Equal(["aaaaaaaa", "bbbbbbbb"], LoopStoreFile.Load(Path).Select(l => l.Id));
    }

    [Theory]
    [InlineData("{", "")]
    [InlineData("{}", "not a JSON array")]
    [InlineData("[{\"id\":\"a\",\"nextLogSeq\":1}]", "\"prompt\" must be a string")]
    [InlineData("[" + "{\"id\":\"a\",\"status\":\"canceled\"}" + "]", "")]
    public void A_damaged_file_is_refused_with_its_reason_and_kept(string content, string reason)
    {
        Directory.CreateDirectory(System.IO.Path.GetDirectoryName(Path)!);
        File.WriteAllText(Path, content);
        var e = Assert.Throws<LoopStoreDamagedException>(() => LoopStoreFile.Load(Path));
        Assert.Contains(Path, e.Message);
        Assert.Contains(reason, e.Message);
        Assert.Contains("does not overwrite it", e.Message);
        Assert.Equal(content, File.ReadAllText(Path));
    }

    [Fact]
    public void A_log_keeps_its_newest_lines_and_its_seqs()
    {
        var settings = new LoopSettings(null, "p", "/tmp", "mock", null, null, null, null, null, null, ["true"], false, 0, null, null);
        var loop = Loop.Create("aaaaaaaa", settings, "2026-05-03T07:00:00.000Z");
        for (var i = 0; i < 5; i++) loop = loop.Log("2026-05-03T07:00:00.000Z", null, "loop", "info", $"line {i}", maxEntries: 3);
        Assert.Equal([3L, 4, 5], loop.Logs.Select(l => l.Seq));
        Assert.Equal(6, loop.NextLogSeq);
        Assert.Equal([5L], loop.LogsAfter(4).Select(l => l.Seq));
    }
}
