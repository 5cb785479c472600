using Akka.Actor;
using Akka.Dispatch.MessageQueues;
using Paseo.Actors.Hosting;
using Xunit;
using Xunit.Abstractions;

namespace Paseo.Actors.Tests.Hosting;

/// <summary>
/// The agents' mailbox (paseo.hocon deploys it under /paseo/agents): messages in order, none lost when the actor
/// stops (they go to dead letters), and only the actors the deployment names get it.
/// </summary>
public sealed class CompactMailboxSpecs(ITestOutputHelper output) : Akka.TestKit.Xunit2.TestKit("""
    akka.loglevel = WARNING
    akka.actor.compact-mailbox.mailbox-type = "Paseo.Actors.Hosting.CompactMailbox, Paseo.Actors"
    akka.actor.deployment {
      "/paseo/agents/*" { mailbox = akka.actor.compact-mailbox }
      "/paseo/agents/*/*" { mailbox = akka.actor.compact-mailbox }
      "/paseo/agents/store" { mailbox = akka.actor.default-mailbox }
    }
    """, output)
{
    private static IMessageQueue QueueOf(IActorRef actor) => ((ActorCell)((ActorRefWithCell)actor).Underlying).Mailbox!.MessageQueue;

    [Fact]
    public async Task Agents_and_their_children_get_it_and_other_actors_keep_akkas()
    {
        var paseo = Sys.ActorOf(Props.Create(() => new Parent("agents")), "paseo");
        paseo.Tell("make");
        var agents = ExpectMsg<IActorRef>();
        agents.Tell("make");
        var agent = ExpectMsg<IActorRef>();
        agent.Tell("make");
        var session = ExpectMsg<IActorRef>();
        Assert.IsType<CompactMessageQueue>(QueueOf(agent));
        Assert.IsType<CompactMessageQueue>(QueueOf(session));
        Assert.IsNotType<CompactMessageQueue>(QueueOf(paseo));
        Assert.IsNotType<CompactMessageQueue>(QueueOf(agents));
        // The store beside the agents is written by all of them: Akka's lock-free queue.
        var store = await Sys.ActorSelection("/user/paseo/agents").Ask<IActorRef>("store", TimeSpan.FromSeconds(5));
        Assert.IsNotType<CompactMessageQueue>(QueueOf(store));
    }

    [Fact]
    public void Messages_come_in_order_and_those_left_at_the_stop_go_to_dead_letters()
    {
        var queue = new CompactMessageQueue();
        for (var i = 0; i < 100; i++) queue.Enqueue(TestActor, new Envelope(i, TestActor));
        Assert.Equal(100, queue.Count);
        for (var i = 0; i < 60; i++)
        {
            Assert.True(queue.TryDequeue(out var envelope));
            Assert.Equal(i, envelope.Message);
        }
        var deadLetters = new CompactMessageQueue();
        queue.CleanUp(TestActor, deadLetters);
        Assert.False(queue.HasMessages);
        Assert.Equal(40, deadLetters.Count);
        Assert.True(deadLetters.TryDequeue(out var first));
        Assert.Equal(60, first.Message);
    }

    /// <summary>Makes a child on "make" (named <paramref name="childName"/>, or generated) and answers with it.</summary>
    private sealed class Parent : ReceiveActor
    {
        public Parent(string? childName)
        {
            Receive<string>(m => m == "store", _ => Sender.Tell(Context.ActorOf(Props.Create(() => new Parent(null)), "store")));
            Receive<string>(_ => Sender.Tell(childName is null
                ? Context.ActorOf(Props.Create(() => new Parent(null)))
                : Context.ActorOf(Props.Create(() => new Parent(childName == "agents" ? "agent-1" : null)), childName)));
        }
    }
}
