using Akka.Actor;
using Akka.Configuration;
using Akka.Dispatch;
using Akka.Dispatch.MessageQueues;

namespace Paseo.Actors.Hosting;

/// <summary>
/// An unbounded mailbox whose queue costs nothing while empty, for agents and their provider sessions
/// (<c>akka.actor.compact-mailbox</c>, deployed under <c>/paseo/agents</c> in paseo.hocon). Akka's default queue is a <see cref="System.Collections.Concurrent.ConcurrentQueue{T}"/>, which
/// allocates a first segment of 32 slots (~0.8 KiB) for every actor up front: with an agent and its provider session
/// that was 1.6 KiB of each idle agent's 11 KiB (bench/README.md, "Efficiency"). Here a plain queue under a lock starts
/// empty and grows with use; an actor's queue is written by its senders and read by one mailbox run at a time, so the
/// lock is seldom contended. No stash: an actor with <c>IWithStash</c> cannot use it (Akka refuses it at creation).
/// </summary>
public sealed class CompactMailbox(Settings settings, Config config) : MailboxType(settings, config), IProducesMessageQueue<CompactMessageQueue>
{
    public override IMessageQueue Create(IActorRef owner, ActorSystem system) => new CompactMessageQueue();
}

/// <summary>The queue of <see cref="CompactMailbox"/>.</summary>
public sealed class CompactMessageQueue : IMessageQueue, IUnboundedMessageQueueSemantics
{
    private readonly Queue<Envelope> _queue = new();

    public bool HasMessages
    {
        get
        {
            lock (_queue) return _queue.Count > 0;
        }
    }

    public int Count
    {
        get
        {
            lock (_queue) return _queue.Count;
        }
    }

    public void Enqueue(IActorRef receiver, Envelope envelope)
    {
        lock (_queue) _queue.Enqueue(envelope);
    }

    public bool TryDequeue(out Envelope envelope)
    {
        lock (_queue)
        {
            if (!_queue.TryDequeue(out envelope)) return false;
            // A burst (a long output backlog) grew the array: give it back once the queue is empty again.
            if (_queue.Count == 0 && _queue.Capacity > 64) _queue.TrimExcess();
            return true;
        }
    }

    public void CleanUp(IActorRef owner, IMessageQueue deadletters)
    {
        while (TryDequeue(out var envelope)) deadletters.Enqueue(owner, envelope);
    }
}
