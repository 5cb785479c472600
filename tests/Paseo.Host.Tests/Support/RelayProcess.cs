using System.Diagnostics;

namespace Paseo.Host.Tests.Support;

/// <summary>`paseo relay start --listen 127.0.0.1:0` as a process of its own: ready when it prints the port it bound.</summary>
public sealed class RelayProcess : IAsyncDisposable
{
    private readonly Process _process;

    public int Port { get; }

    private RelayProcess(Process process, int port)
    {
        _process = process;
        Port = port;
    }

    public static async Task<RelayProcess> StartAsync(IReadOnlyDictionary<string, string?> env)
    {
        var process = Process.Start(PaseoBinary.StartInfo(["relay", "start", "--listen", "127.0.0.1:0"], env))!;
        process.StandardInput.Close();
        process.ErrorDataReceived += (_, _) => { };
        process.BeginErrorReadLine();
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        while (await process.StandardOutput.ReadLineAsync(timeout.Token) is { } line)
        {
            if (!line.StartsWith("Relay listening on ", StringComparison.Ordinal)) continue;
            _ = process.StandardOutput.ReadToEndAsync(); // keep draining
            return new RelayProcess(process, int.Parse(line[(line.LastIndexOf(':') + 1)..]));
        }
        throw new InvalidOperationException($"the relay exited ({process.ExitCode}) before it listened");
    }

    public async ValueTask DisposeAsync()
    {
        if (!_process.HasExited)
        {
            _process.Kill(entireProcessTree: true);
            await _process.WaitForExitAsync();
        }
        _process.Dispose();
    }
}
