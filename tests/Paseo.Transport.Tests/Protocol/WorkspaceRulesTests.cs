using Paseo.Transport.Git;
using Paseo.Transport.Workspaces;

namespace Paseo.Transport.Tests.Protocol;

/// <summary>The naming rules of app-workspaces.md §2.2 and §4.1, with the spec's own vectors.</summary>
public sealed class WorkspaceRulesTests
{
    [Theory]
    [InlineData("git@github.com:acme/shop.git", "remote:github.com/acme/shop", "acme/shop")]
    [InlineData("https://github.com/acme/shop", "remote:github.com/acme/shop", "acme/shop")]
    [InlineData("https://GitLab.com/group/sub/proj.git", "remote:gitlab.com/group/sub/proj", "proj")]
    [InlineData("ssh://git@bitbucket.org/team/repo.git", "remote:bitbucket.org/team/repo", "repo")]
    [InlineData("git@myhost:repo.git", "/home/dev/shop", "shop")]
    [InlineData("/srv/git/shop.git", "/home/dev/shop", "shop")]
    [InlineData(null, "/home/dev/shop", "shop")]
    public void Project_keys_and_names_from_the_origin_url(string? remote, string key, string name)
    {
        Assert.Equal(key, ProjectKeys.Key(remote, "/home/dev/shop"));
        Assert.Equal(name, ProjectKeys.Name(ProjectKeys.Key(remote, "/home/dev/shop")));
    }

    [Fact]
    public void The_repository_hash_matches_the_spec_vector() => Assert.Equal("3j3ikl2p", WorktreeNames.RepoHash("/home/dev/shop"));

    [Theory]
    [InlineData("Fix the login bug!!", "fix-the-login-bug")]
    [InlineData("  --Hello__World--  ", "hello-world")]
    [InlineData("a-very-long-branch-name-that-goes-on-and-on-and-on-forever-and-ever", "a-very-long-branch-name-that-goes-on-and-on-and")]
    [InlineData("abcdefghijklmnopqrstuvwxyz-abcdefghijklmnopqrstuvwxyz-abc", "abcdefghijklmnopqrstuvwxyz")]
    public void Slugs(string text, string slug) => Assert.Equal(slug, WorktreeNames.Slugify(text));

    [Theory]
    [InlineData("", "Branch name cannot be empty")]
    [InlineData("Upper", "Branch name must contain only lowercase letters, numbers, hyphens, and forward slashes")]
    [InlineData("-start", "Branch name cannot start or end with a hyphen")]
    [InlineData("a--b", "Branch name cannot have consecutive hyphens")]
    [InlineData("feature/ok-1", null)]
    public void Branch_names(string name, string? error) => Assert.Equal(error, WorktreeNames.Invalid(name));

    [Fact]
    public void Shortstat_and_binary_detection()
    {
        Assert.Equal(new DiffStat(12, 3), CheckoutSnapshot.ParseShortstat(" 3 files changed, 12 insertions(+), 3 deletions(-)\n"));
        Assert.Null(CheckoutSnapshot.ParseShortstat(""));
        Assert.True(Paseo.Transport.Files.ContentSniffing.LooksBinary([0x41, 0x00, 0x42]));
        Assert.True(Paseo.Transport.Files.ContentSniffing.LooksBinary([1, 2, 3, 4, 65]));
        Assert.False(Paseo.Transport.Files.ContentSniffing.LooksBinary("plain text\n\twith tabs\r\n"u8));
    }
}
