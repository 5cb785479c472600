using Paseo.Transport.Pairing;

namespace Paseo.Transport.Client;

/// <summary>Where the CLI finds a daemon (app-protocol.md §7 "Finding the daemon").</summary>
public abstract record DaemonTarget
{
    /// <summary>`host:port`, `tcp://host:port[?password=…&amp;ssl=true]`, or a bare port (127.0.0.1).</summary>
    public sealed record Tcp(string Host, int Port, bool Tls, string? Password) : DaemonTarget
    {
        public override string ToString() => $"{(Host.Contains(':') ? $"[{Host}]" : Host)}:{Port}";
    }

    /// <summary>`unix:///path` or an absolute path.</summary>
    public sealed record Unix(string Path) : DaemonTarget
    {
        public override string ToString() => $"unix://{Path}";
    }

    /// <summary>A pairing link: through its relay, end to end encrypted.</summary>
    public sealed record Relay(ConnectionOffer Offer) : DaemonTarget
    {
        public override string ToString() => $"relay {Offer.RelayEndpoint} (server {Offer.ServerId})";
    }

    /// <summary>Parses a `--host` / PASEO_HOST value; throws <see cref="FormatException"/> with the reason.</summary>
    public static DaemonTarget Parse(string text)
    {
        var value = text.Trim();
        if (value.Length == 0) throw new FormatException("the daemon address is empty");
        if (ConnectionOffer.LooksLikeOfferUrl(value))
        {
            try
            {
                return new Relay(ConnectionOffer.ParseUrl(value));
            }
            catch (OfferFormatException e)
            {
                throw new FormatException($"the pairing link cannot be read: {e.Message}");
            }
        }
        if (value.StartsWith("unix://", StringComparison.Ordinal)) return new Unix(value["unix://".Length..]);
        if (value.StartsWith('/')) return new Unix(value);
        if (int.TryParse(value, out var bare)) return new Tcp("127.0.0.1", CheckPort(bare), false, null);
        string? password = null;
        var tls = false;
        if (value.StartsWith("tcp://", StringComparison.Ordinal))
        {
            var uri = new Uri(value);
            foreach (var pair in uri.Query.TrimStart('?').Split('&', StringSplitOptions.RemoveEmptyEntries))
            {
                var at = pair.IndexOf('=');
                var name = at < 0 ? pair : pair[..at];
                var v = at < 0 ? "" : Uri.UnescapeDataString(pair[(at + 1)..]);
                if (name == "password") password = v;
                if (name == "ssl") tls = v == "true";
            }
            if (uri.Port <= 0) throw new FormatException($"{value}: a port is required");
            return new Tcp(uri.Host.Trim('[', ']'), uri.Port, tls, password);
        }
        var colon = value.LastIndexOf(':');
        if (colon <= 0 || !int.TryParse(value[(colon + 1)..], out var port)) throw new FormatException($"{value}: expected host:port, tcp://host:port, unix:///path or a pairing link");
        return new Tcp(value[..colon].Trim('[', ']'), CheckPort(port), false, null);
    }

    private static int CheckPort(int port) => port is > 0 and <= 65535 ? port : throw new FormatException($"{port} is not a port");
}
