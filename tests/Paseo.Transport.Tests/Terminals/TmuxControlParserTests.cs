using System.Text;
using Paseo.Transport.Terminals;

namespace Paseo.Transport.Tests.Terminals;

/// <summary>tmux control mode, as its lines are read (tmux(1), CONTROL MODE).</summary>
public sealed class TmuxControlParserTests
{
    private static ControlLine Parse(TmuxControlParser parser, string line) => parser.Parse(Encoding.UTF8.GetBytes(line));

    [Fact]
    public void Output_is_unescaped_to_the_panes_bytes()
    {
        var output = Assert.IsType<ControlLine.Output>(Parse(new TmuxControlParser(), "%output %3 42\\015\\012\\033[0m \\134n é"));
        Assert.Equal("%3", output.PaneId);
        Assert.Equal(Encoding.UTF8.GetBytes("42\r\n\u001b[0m \\n é"), output.Bytes);
        // A backslash not followed by three octal digits is kept as it is.
        Assert.Equal("a\\9b\\"u8.ToArray(), TmuxControlParser.Unescape("a\\9b\\"u8));
    }

    [Fact]
    public void A_block_ends_only_at_the_end_that_matches_its_begin()
    {
        var parser = new TmuxControlParser();
        Assert.Equal(new ControlLine.BlockBegin(true), Parse(parser, "%begin 1796539238 281 1"));
        // A captured screen can show anything, even what looks like an end or a notification.
        Assert.IsType<ControlLine.BlockLine>(Parse(parser, "%end 1796539238 280 1"));
        Assert.IsType<ControlLine.BlockLine>(Parse(parser, "%output %0 not output"));
        Assert.Equal(new ControlLine.BlockEnd(true, false), Parse(parser, "%end 1796539238 281 1"));
        Assert.IsType<ControlLine.Output>(Parse(parser, "%output %0 x"));
        Assert.Equal(new ControlLine.BlockBegin(false), Parse(parser, "%begin 1 2 0"));
        Assert.Equal(new ControlLine.BlockEnd(false, true), Parse(parser, "%error 1 2 0"));
    }

    [Fact]
    public void Subscriptions_exit_and_other_notifications()
    {
        var parser = new TmuxControlParser();
        Assert.Equal(new ControlLine.Subscription("paseo-title", "make test : all"), Parse(parser, "%subscription-changed paseo-title $0 - - - : make test : all"));
        Assert.Equal(new ControlLine.Exit(null), Parse(parser, "%exit"));
        Assert.Equal(new ControlLine.Exit("server exited"), Parse(parser, "%exit server exited"));
        Assert.Equal(new ControlLine.Notification("%layout-change"), Parse(parser, "%layout-change @0 aafd,120x40,0,0,0"));
    }
}
