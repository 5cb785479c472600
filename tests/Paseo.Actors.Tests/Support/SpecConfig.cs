namespace Paseo.Actors.Tests.Support;

/// <summary>The actor system of the specs: quiet logs, and the dispatchers paseo.hocon defines that actors ask for by name.</summary>
public static class SpecConfig
{
    public const string Hocon = """
        akka.loglevel = WARNING
        akka.actor.blocking-io-dispatcher {
          type = Dispatcher
          executor = "Paseo.Actors.Hosting.BlockingIoExecutorConfigurator, Paseo.Actors"
          throughput = 100
          blocking-io-executor.thread-count = 2
        }
        """;
}
