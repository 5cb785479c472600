using System.Buffers;
using System.Diagnostics;
using System.IO.Pipelines;
using System.Threading.Channels;

namespace Paseo.Transport.Terminals;

/// <summary>
/// One tmux control-mode client (`tmux -C attach-session`) on one terminal's session: the stream of its pane's output and
/// the answers to the commands written to it, as <see cref="ControlLine"/>s. Reading happens off the caller's thread
/// into a bounded queue; when the owner falls behind, reading stops and tmux holds the output (so the daemon never
/// buffers without end). Commands go through a bounded queue written by one writer: <see cref="TrySend"/> is false when
/// it is full. Disposing detaches the client (closing its stdin); the terminal goes on.
/// </summary>
public sealed class TmuxControlClient : IAsyncDisposable
{
    private const int MaxLineBytes = 8 << 20;
    private readonly Process _process;
    private readonly Channel<ControlLine> _lines = Channel.CreateBounded<ControlLine>(new BoundedChannelOptions(1024) { SingleReader = true, SingleWriter = true, FullMode = BoundedChannelFullMode.Wait });
    private readonly Channel<string> _commands;

    private TmuxControlClient(Process process, int maxPendingCommands)
    {
        _process = process;
        _commands = Channel.CreateBounded<string>(new BoundedChannelOptions(maxPendingCommands) { SingleReader = true, FullMode = BoundedChannelFullMode.Wait });
        _ = Task.Run(ReadAsync);
        _ = Task.Run(WriteAsync);
        _ = Task.Run(async () =>
        {
            // tmux's own complaints (a lost server) are not protocol; they are read so the pipe never fills.
            try { await _process.StandardError.ReadToEndAsync().ConfigureAwait(false); } catch (IOException) { }
        });
    }

    public static TmuxControlClient Attach(TmuxServer server, string sessionId)
    {
        var program = server.Program ?? throw new TmuxException($"{server.Settings.Program} is not installed");
        var start = new ProcessStartInfo(program)
        {
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var arg in server.BaseArguments) start.ArgumentList.Add(arg);
        foreach (var arg in (string[])["-C", "attach-session", "-t", "=" + sessionId]) start.ArgumentList.Add(arg);
        start.Environment.Remove("TMUX");
        start.Environment.Remove("TMUX_PANE");
        var process = Process.Start(start) ?? throw new TmuxException("tmux could not be started");
        return new TmuxControlClient(process, server.Settings.MaxPendingCommands);
    }

    /// <summary>
    /// The next lines: at least one, and what else is already read, up to <paramref name="maxLines"/>; null once the
    /// client has ended (its session ended, tmux went away, or it was disposed).
    /// </summary>
    public async Task<IReadOnlyList<ControlLine>?> ReadBatchAsync(int maxLines = 256)
    {
        if (!await _lines.Reader.WaitToReadAsync().ConfigureAwait(false)) return null;
        var batch = new List<ControlLine>();
        while (batch.Count < maxLines && _lines.Reader.TryRead(out var line)) batch.Add(line);
        return batch;
    }

    /// <summary>Queues one command line; false when <see cref="TerminalSettings.MaxPendingCommands"/> already wait or the client ended.</summary>
    public bool TrySend(string commandLine) => _commands.Writer.TryWrite(commandLine);

    private async Task ReadAsync()
    {
        var parser = new TmuxControlParser();
        var reader = PipeReader.Create(_process.StandardOutput.BaseStream, new StreamPipeReaderOptions(bufferSize: 64 * 1024));
        try
        {
            while (true)
            {
                var read = await reader.ReadAsync().ConfigureAwait(false);
                var buffer = read.Buffer;
                while (buffer.PositionOf((byte)'\n') is { } end)
                {
                    var line = buffer.Slice(0, end);
                    await _lines.Writer.WriteAsync(parser.Parse(line.IsSingleSegment ? line.FirstSpan : line.ToArray())).ConfigureAwait(false);
                    buffer = buffer.Slice(buffer.GetPosition(1, end));
                }
                if (buffer.Length > MaxLineBytes) break; // not tmux speaking
                reader.AdvanceTo(buffer.Start, buffer.End);
                if (read.IsCompleted) break;
            }
        }
        catch (Exception e) when (e is IOException or ObjectDisposedException or InvalidOperationException)
        {
        }
        finally
        {
            await reader.CompleteAsync().ConfigureAwait(false);
            _lines.Writer.TryComplete();
            _commands.Writer.TryComplete();
        }
    }

    private async Task WriteAsync()
    {
        var stdin = _process.StandardInput;
        try
        {
            await foreach (var command in _commands.Reader.ReadAllAsync().ConfigureAwait(false))
            {
                await stdin.WriteAsync(command).ConfigureAwait(false);
                await stdin.WriteAsync('\n').ConfigureAwait(false);
                if (_commands.Reader.Count == 0) await stdin.FlushAsync().ConfigureAwait(false);
            }
        }
        catch (Exception e) when (e is IOException or ObjectDisposedException)
        {
        }
        finally
        {
            // Closing stdin detaches the client; the session goes on.
            try { stdin.Close(); } catch (IOException) { }
        }
    }

    public async ValueTask DisposeAsync()
    {
        _commands.Writer.TryComplete();
        using var grace = new CancellationTokenSource(TimeSpan.FromSeconds(2));
        try
        {
            await _process.WaitForExitAsync(grace.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
            try { _process.Kill(); } catch (InvalidOperationException) { }
        }
        _process.Dispose();
    }
}
