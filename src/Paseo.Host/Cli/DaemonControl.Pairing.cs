using System.Text.Json;
using Paseo.Host.Native;
using Paseo.Transport.Configuration;
using Paseo.Transport.Daemon;
using Paseo.Transport.Identity;
using Paseo.Transport.Pairing;
using QRCoder;

namespace Paseo.Host.Cli;

/// <summary>`paseo daemon pair [--rotate]`: the pairing link and QR code, and rotation of the daemon's identity.</summary>
public sealed partial class DaemonControl
{
    private const int SigHup = 1;

    public async Task<int> PairAsync(string? homeFlag, bool rotate, bool yes, TextReader stdin, bool json, bool quiet = false)
    {
        DaemonConfig config;
        try
        {
            config = DaemonConfig.Resolve(new DaemonFlags { Home = homeFlag }, env);
        }
        catch (ConfigException e)
        {
            return Fail(json, "INVALID_CONFIG", e.Message, ConfigException.ExitCode);
        }

        DaemonIdentity identity;
        int? reloadedPid = null;
        try
        {
            if (rotate)
            {
                if (!yes)
                {
                    await stderr.WriteAsync("Rotate the pairing? A new server id and keypair replace the current ones, every device paired " +
                                            "so far loses access and must pair again. Type 'yes' to continue: ");
                    await stderr.FlushAsync();
                    var answer = (await stdin.ReadLineAsync())?.Trim().ToLowerInvariant();
                    if (answer is not ("yes" or "y"))
                        return Fail(json, "ROTATION_CANCELLED", "rotation cancelled; nothing was changed (pass --yes to skip the question)", 1);
                }
                identity = DaemonIdentity.Rotate(config.Home, env);
                if (PidFile.ReadRunning(config.Home.PidFile) is { } toReload && Libc.Kill(toReload.Pid, SigHup) == 0)
                    reloadedPid = toReload.Pid;
            }
            else
            {
                identity = DaemonIdentity.LoadOrCreate(config.Home, env);
            }
        }
        catch (IdentityFileException e)
        {
            return Fail(json, "INVALID_IDENTITY", e.Message, IdentityFileException.ExitCode);
        }

        // A running daemon says which relay it uses (its pid file): it may have been started with `--relay` or
        // `--embedded-relay`, which the config file does not know. Without one, the config file's.
        var running = PidFile.ReadRunning(config.Home.PidFile);
        var relayEnabled = running is not null ? running.Relay is not null : config.Relay.Enabled;
        var endpoint = config.Relay.PublicEndpoint ?? running?.Relay ?? config.Relay.Endpoint;
        if (endpoint is null)
            return Fail(json, "NO_RELAY",
                "no relay endpoint is configured, so there is nothing to pair through: set daemon.relay.endpoint in " +
                $"{config.Home.ConfigJson} (or PASEO_RELAY_ENDPOINT) to a relay you run (paseo relay start) or trust, and enable it", 1);

        var offer = new ConnectionOffer(identity.ServerId.Value, Convert.ToBase64String(identity.KeyPair.PublicKey), endpoint);
        var url = offer.ToUrl(config.AppBaseUrl);
        var qr = RenderQr(url);
        // The same offer for our own web client, served by the relay the daemon uses: no app store, no third party.
        var webUrl = offer.ToUrl(ConnectionOffer.WebClientBaseUrl(endpoint));
        var overridden = rotate && !string.IsNullOrWhiteSpace(env.GetValueOrDefault(DaemonIdentity.ServerIdVariable));

        if (quiet && !json)
        {
            // Only the link: `paseo ls --host "$(paseo daemon pair -q)"`.
            await stdout.WriteLineAsync(url);
            return 0;
        }
        if (json)
        {
            await stdout.WriteLineAsync(rotate
                ? JsonSerializer.Serialize(new { relayEnabled, url, qr, webUrl, rotated = true, serverId = identity.ServerId.Value, daemonReloaded = reloadedPid is not null })
                : JsonSerializer.Serialize(new { relayEnabled, url, qr, webUrl }));
            return 0;
        }

        if (rotate)
        {
            await stdout.WriteLineAsync($"Rotated the pairing: server id {identity.ServerId}, new keypair. Earlier pairing links no longer work.");
            if (overridden)
                await stderr.WriteLineAsync($"paseo: note: {DaemonIdentity.ServerIdVariable} is set, so the server id stays {identity.ServerId}; only the keypair changed.");
            await stdout.WriteLineAsync(reloadedPid is { } pid
                ? $"Told the running daemon (pid {pid}) to load the new identity."
                : "No daemon is running; the new identity is used when it starts.");
        }
        if (webUrl.StartsWith("http://", StringComparison.Ordinal) && !IsLoopbackEndpoint(endpoint))
            await stderr.WriteLineAsync("paseo: note: the web link is plain http: anyone on the network path to the relay could change the page " +
                                        "before your phone runs it. Serve the relay over TLS (its public endpoint on port 443, e.g. behind a reverse proxy) " +
                                        "unless the network between is yours (a LAN, a tailnet).");
        if (IsLoopbackEndpoint(endpoint))
            await stderr.WriteLineAsync($"paseo: note: the relay's address {endpoint} is this machine's loopback: only a browser on this machine can " +
                                        "open these links. For a phone, set daemon.relay.publicEndpoint (PASEO_RELAY_PUBLIC_ENDPOINT) to the " +
                                        "address the phone reaches the relay at (docs/relay.md).");
        if (!relayEnabled)
            await stderr.WriteLineAsync(running is not null
                ? $"paseo: note: the running daemon (pid {running.Pid}) uses no relay; this link works once it is started with one (--relay, or daemon.relay in {config.Home.ConfigJson})."
                : $"paseo: note: the relay is disabled in {config.Home.ConfigJson}; this link works once the daemon connects to {endpoint}.");
        await stdout.WriteAsync("\nScan to pair:\n" + qr + "\n" + url + "\n");
        await stdout.WriteAsync("\nOr open this on your phone (the web client your relay serves):\n" + RenderQr(webUrl) + "\n" + webUrl + "\n");
        return 0;
    }

    /// <summary>`host:port` naming this machine (localhost, 127.x, ::1), read as a listen address is.</summary>
    private static bool IsLoopbackEndpoint(string endpoint)
    {
        try
        {
            return Paseo.Transport.Listen.ListenTarget.Parse(endpoint) is Paseo.Transport.Listen.TcpListenTarget { IsLocalOnly: true };
        }
        catch (FormatException)
        {
            return false;
        }
    }

    /// <summary>A terminal QR code, two modules per character row (half blocks), with its quiet zone.</summary>
    internal static string RenderQr(string url)
    {
        using var generator = new QRCodeGenerator();
        using var data = generator.CreateQrCode(url, QRCodeGenerator.ECCLevel.M);
        return new AsciiQRCode(data).GetGraphicSmall(drawQuietZones: true, invert: false, endOfLine: "\n");
    }
}
