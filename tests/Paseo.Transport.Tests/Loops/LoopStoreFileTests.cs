using System.Text.Json.Nodes;
using Paseo.Transport.Loops;

namespace Paseo.Transport.Tests.Loops;

/// <summary>The loops on disk: one private file per loop; Paseo's loops.json with the spec's record (§7 L.2) is imported unchanged; a damaged file is refused and kept.</summary>
public sealed class LoopStoreFileTests : IDisposable
{
    private readonly TempDir _dir = new();
    private string Dir => System.IO.Path.Combine(_dir.Path, "loops");

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

    private static readonly LoopSettings Simple = new(null, "p", "/tmp", "mock", null, null, null, null, null, null, ["true"], false, 0, null, null);

    [Fact]
    public void A_missing_directory_is_no_loops() => Assert.Empty(LoopStoreFile.Load(Dir));

    [Fact]
    public void Paseos_loops_json_is_imported_into_a_file_per_loop_written_back_unchanged_and_kept_aside()
    {
        Directory.CreateDirectory(Dir);
        File.WriteAllText(System.IO.Path.Combine(Dir, "loops.json"), "[" + SpecLoop + "]");
        var loop = Assert.Single(LoopStoreFile.Load(Dir));
        Assert.Equal("fix-tests", loop.Settings.Name);
        Assert.Equal(10, loop.NextLogSeq);
        Assert.Equal(0, Assert.Single(Assert.Single(loop.Iterations).VerifyChecks).ExitCode);

        var own = System.IO.Path.Combine(Dir, "e4b7c2d9.json");
        Assert.True(JsonNode.DeepEquals(JsonNode.Parse(SpecLoop), JsonNode.Parse(File.ReadAllText(own))), File.ReadAllText(own));
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(own));
        Assert.False(File.Exists(System.IO.Path.Combine(Dir, "loops.json")));
        Assert.True(File.Exists(System.IO.Path.Combine(Dir, "loops.json.imported")));
        // Loaded again: from its own file, the same.
        Assert.Equal("fix-tests", Assert.Single(LoopStoreFile.Load(Dir)).Settings.Name);
    }

    [Fact]
    public void Each_loop_is_its_own_file_and_they_load_oldest_first()
    {
        LoopStoreFile.Save(Dir, Loop.Create("bbbbbbbb", Simple, "2026-05-03T08:00:00.000Z"));
        LoopStoreFile.Save(Dir, Loop.Create("aaaaaaaa", Simple, "2026-05-03T07:00:00.000Z"));
        Assert.Equal(["aaaaaaaa.json", "bbbbbbbb.json"], Directory.EnumerateFiles(Dir).Select(System.IO.Path.GetFileName).Order());
        Assert.Equal(["aaaaaaaa", "bbbbbbbb"], LoopStoreFile.Load(Dir).Select(l => l.Id));
        LoopStoreFile.Delete(Dir, "aaaaaaaa");
        Assert.Equal(["bbbbbbbb"], LoopStoreFile.Load(Dir).Select(l => l.Id));
        Assert.Throws<ArgumentException>(() => LoopStoreFile.PathOf(Dir, "../x"));
    }

    [Theory]
    [InlineData("aaaaaaaa.json", "{", "")]
    [InlineData("aaaaaaaa.json", "[]", "not a JSON object")]
    [InlineData("aaaaaaaa.json", "{\"id\":\"a\",\"nextLogSeq\":1}", "\"prompt\" must be a string")]
    [InlineData("loops.json", "{}", "not a JSON array")]
    [InlineData("loops.json", "[{\"id\":\"a\",\"status\":\"canceled\"}]", "")]
    public void A_damaged_file_is_refused_with_its_reason_and_kept(string name, string content, string reason)
    {
        Directory.CreateDirectory(Dir);
        var path = System.IO.Path.Combine(Dir, name);
        File.WriteAllText(path, content);
        var e = Assert.Throws<LoopStoreDamagedException>(() => LoopStoreFile.Load(Dir));
        Assert.Contains(path, e.Message);
        Assert.Contains(reason, e.Message);
        Assert.Contains("does not overwrite it", e.Message);
        Assert.Equal(content, File.ReadAllText(path));
    }

    [Fact]
    public void A_log_keeps_its_newest_lines_within_its_character_budget_and_always_the_newest()
    {
        var loop = Loop.Create("aaaaaaaa", Simple, "2026-05-03T07:00:00.000Z");
        for (var i = 0; i < 4; i++) loop = loop.Log("2026-05-03T07:00:00.000Z", null, "loop", "info", new string((char)('a' + i), 10), maxEntries: 100, maxChars: 25);
        Assert.Equal([3L, 4], loop.Logs.Select(l => l.Seq));
        loop = loop.Log("2026-05-03T07:00:00.000Z", null, "loop", "info", new string('z', 100), maxEntries: 100, maxChars: 25);
        Assert.Equal([5L], loop.Logs.Select(l => l.Seq));
    }

    [Fact]
    public void A_log_keeps_its_newest_lines_and_its_seqs()
    {
        var loop = Loop.Create("aaaaaaaa", Simple, "2026-05-03T07:00:00.000Z");
        for (var i = 0; i < 5; i++) loop = loop.Log("2026-05-03T07:00:00.000Z", null, "loop", "info", $"line {i}", maxEntries: 3);
        Assert.Equal([3L, 4, 5], loop.Logs.Select(l => l.Seq));
        Assert.Equal(6, loop.NextLogSeq);
        Assert.Equal([5L], loop.LogsAfter(4).Select(l => l.Seq));
    }
}
