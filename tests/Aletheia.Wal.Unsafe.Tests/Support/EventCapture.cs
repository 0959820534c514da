using System.Collections.Concurrent;
using System.Diagnostics.Tracing;
using Xunit;

namespace Aletheia.Wal.Tests.Support;

/// <summary>
/// Listens to the library's event source (<see cref="WalDiagnostics.EventSourceName"/>) at every level and keyword and
/// keeps the events of one log, told apart by their first field, the directory: an <see cref="EventListener"/> sees the
/// events of every log in the process, and tests run logs in parallel.
/// </summary>
/// <param name="directory">The log's full directory path.</param>
internal sealed class EventCapture(string directory) : EventListener
{
    // Field initializers run before the base constructor, which calls OnEventSourceCreated for the sources that exist.
    private readonly string _directory = directory;
    private readonly ConcurrentQueue<Captured> _events = new();
    private readonly ConcurrentQueue<string> _sourceErrors = new();

    /// <summary>One event: its name, level and keywords, and its fields by name.</summary>
    public sealed record Captured(int Id, string Name, EventLevel Level, EventKeywords Keywords, IReadOnlyDictionary<string, object?> Fields)
    {
        public T Field<T>(string name) => Assert.IsType<T>(Fields[name]);
    }

    /// <summary>Every event of the log so far, in the order they were written.</summary>
    public List<Captured> All => [.. _events];

    /// <summary>The events of the log so far with this name, in order.</summary>
    public List<Captured> Named(string name) => _events.Where(e => e.Name == name).ToList();

    /// <summary>Messages the event source sent about itself (a malformed event): none, in every test.</summary>
    public List<string> SourceErrors => [.. _sourceErrors];

    protected override void OnEventSourceCreated(EventSource eventSource)
    {
        if (eventSource.Name == WalDiagnostics.EventSourceName)
        {
            EnableEvents(eventSource, EventLevel.Verbose, EventKeywords.All);
        }
    }

    protected override void OnEventWritten(EventWrittenEventArgs e)
    {
        if (e.EventSource.Name != WalDiagnostics.EventSourceName)
        {
            return;
        }

        if (e.EventId == 0)
        {
            _sourceErrors.Enqueue(string.Join(" ", e.Payload ?? []));
            return;
        }

        if (e.Payload is [string directory, ..] && directory == _directory)
        {
            var fields = new Dictionary<string, object?>();
            for (int i = 0; i < e.Payload.Count; i++)
            {
                fields[e.PayloadNames![i]] = e.Payload[i];
            }

            // Bits 44 and up of the keywords are EventSource's own (its sessions'): the source's keywords are the rest.
            _events.Enqueue(new Captured(e.EventId, e.EventName!, e.Level, e.Keywords & (EventKeywords)0x0000_0FFF_FFFF_FFFF, fields));
        }
    }
}
