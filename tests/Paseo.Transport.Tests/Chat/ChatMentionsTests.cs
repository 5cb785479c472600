using Paseo.Transport.Chat;

namespace Paseo.Transport.Tests.Chat;

/// <summary>Mention tokens and the notification text of app-orchestration.md §1.5, with the spec's own examples.</summary>
public sealed class ChatMentionsTests
{
    [Fact]
    public void The_specs_body_yields_its_tokens_sorted_and_distinct()
    {
        Assert.Equal(["Z", "a", "b", "c", "x.y."], ChatMentions.Parse("@b @a hi @a, (@c) e@mail @-x @x.y. @Z"));
    }

    [Theory]
    [InlineData("(@agent-b.)", "agent-b.")]
    [InlineData("@everyone look", "everyone")]
    [InlineData("line one\n@3f8e2c1a next", "3f8e2c1a")]
    public void A_token_after_the_start_a_space_or_a_parenthesis_is_a_mention(string body, string token) =>
        Assert.Equal([token], ChatMentions.Parse(body));

    [Theory]
    [InlineData("mail me at e@mail.com")]
    [InlineData("@-x is not one")]
    [InlineData("nothing here")]
    public void Other_ats_are_not_mentions(string body) => Assert.Empty(ChatMentions.Parse(body));

    [Fact]
    public void The_notification_is_the_specs_text()
    {
        Assert.Equal("Chat mention from manual in room \"release-coord\".\nMentioned agents: @3f8e2c1a.\nMessage:\nplease run tests\n" +
                     "Read the room with: paseo chat read release-coord --limit 20",
            ChatMentions.Notification("manual", "release-coord", ["3f8e2c1a"], "@3f8e2c1a please run tests"));
    }

    [Theory]
    [InlineData("hi @a1 there", "hi  there")]
    [InlineData("(@a1) look", "(@a1) look")]
    [InlineData("@a1\n@b2 go", "go")]
    public void The_body_loses_its_tokens_after_a_start_or_a_space_and_keeps_that_space(string body, string shown) =>
        Assert.Contains("Message:\n" + shown + "\nRead", ChatMentions.Notification("x", "r", ["a1"], body));

    [Fact]
    public void A_body_of_mentions_only_is_sent_whole_and_every_target_is_listed()
    {
        var text = ChatMentions.Notification("a1", "Room", ["b2", "c3"], "@b2 @c3");
        Assert.Contains("Mentioned agents: @b2, @c3.\n", text);
        Assert.Contains("Message:\n@b2 @c3\n", text);
    }
}
