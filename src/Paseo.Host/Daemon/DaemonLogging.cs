using Paseo.Transport.Configuration;
using Serilog;
using Serilog.Core;
using Serilog.Events;
using Serilog.Formatting.Json;

namespace Paseo.Host.Daemon;

/// <summary>
/// The daemon's logs: the console (unless detached) and a size-rotated file ($PASEO_HOME/daemon.log, 10 MB x 2 by
/// default), through Serilog. Levels and formats use Paseo's names (config.json `log`).
/// </summary>
public static class DaemonLogging
{
    public static Logger Create(LogConfig config, bool console)
    {
        var consoleLevel = ToLevel(config.ConsoleLevel);
        var fileLevel = ToLevel(config.FileLevel);
        var minimum = new[] { console ? consoleLevel : null, fileLevel }.Where(l => l is not null).Select(l => l!.Value).DefaultIfEmpty(LogEventLevel.Fatal).Min();

        var logger = new LoggerConfiguration()
            .MinimumLevel.Is(minimum)
            .MinimumLevel.Override("Microsoft", LogEventLevel.Warning)
            // The MCP SDK logs whole messages (tool arguments and results) at its lower levels: never into daemon.log.
            .MinimumLevel.Override("ModelContextProtocol", LogEventLevel.Warning)
            .MinimumLevel.Override("Microsoft.Hosting.Lifetime", LogEventLevel.Information)
            .Enrich.FromLogContext();

        if (console && consoleLevel is { } cl)
        {
            if (config.ConsoleFormat == "json") logger.WriteTo.Console(new JsonFormatter(renderMessage: true), restrictedToMinimumLevel: cl, standardErrorFromLevel: LogEventLevel.Verbose);
            else logger.WriteTo.Console(restrictedToMinimumLevel: cl, standardErrorFromLevel: LogEventLevel.Verbose,
                outputTemplate: "{Timestamp:HH:mm:ss} [{Level:u3}] {Message:lj}{NewLine}{Exception}");
        }
        if (fileLevel is { } fl)
        {
            Directory.CreateDirectory(Path.GetDirectoryName(config.FilePath)!);
            logger.WriteTo.File(
                new JsonFormatter(renderMessage: true),
                config.FilePath,
                restrictedToMinimumLevel: fl,
                fileSizeLimitBytes: config.FileMaxBytes,
                rollOnFileSizeLimit: true,
                retainedFileCountLimit: config.FileMaxFiles,
                shared: false,
                flushToDiskInterval: TimeSpan.FromSeconds(1));
        }
        return logger.CreateLogger();
    }

    private static LogEventLevel? ToLevel(string level) => level switch
    {
        "trace" => LogEventLevel.Verbose,
        "debug" => LogEventLevel.Debug,
        "info" => LogEventLevel.Information,
        "warn" => LogEventLevel.Warning,
        "error" => LogEventLevel.Error,
        "fatal" => LogEventLevel.Fatal,
        _ => null, // "silent"
    };
}
