using System.Collections;

namespace Aletheia.Wal.Raft;

/// <summary>The entries of one read, with the one buffer their payloads were copied into; pooled by the persistent state.</summary>
internal sealed class RaftEntryList : IReadOnlyList<RaftLogEntry>
{
    private RaftLogEntry[] _entries = [];
    private byte[] _buffer = new byte[4096];
    private int _used;

    public int Count { get; private set; }

    public RaftLogEntry this[int index] => (uint)index < (uint)Count ? _entries[index] : throw new ArgumentOutOfRangeException(nameof(index));

    public void Clear()
    {
        for (int i = 0; i < Count; i++)
        {
            _entries[i].Set(0, null, false, false, default);
        }

        Count = 0;
        _used = 0;
    }

    /// <summary>Adds an entry whose payload is copied into the list's buffer (growing it when the payloads outgrow it).</summary>
    public void Add(long term, int? commandId, bool isConfiguration, ReadOnlySpan<byte> payload)
    {
        if (_used + payload.Length > _buffer.Length)
        {
            // Entries added so far point into the old buffer, which stays theirs; later ones go into a new one.
            _buffer = new byte[Math.Max(_buffer.Length * 2, payload.Length)];
            _used = 0;
        }

        payload.CopyTo(_buffer.AsSpan(_used));
        NextEntry().Set(term, commandId, isConfiguration, false, _buffer.AsMemory(_used, payload.Length));
        _used += payload.Length;
    }

    /// <summary>Adds an entry without a payload (a metadata-only read), or one whose payload the caller owns.</summary>
    public void Add(long term, int? commandId, bool isConfiguration, bool isSnapshot, ReadOnlyMemory<byte> payload) =>
        NextEntry().Set(term, commandId, isConfiguration, isSnapshot, payload);

    public IEnumerator<RaftLogEntry> GetEnumerator()
    {
        for (int i = 0; i < Count; i++)
        {
            yield return _entries[i];
        }
    }

    IEnumerator IEnumerable.GetEnumerator() => GetEnumerator();

    private RaftLogEntry NextEntry()
    {
        if (Count == _entries.Length)
        {
            int grown = Math.Max(16, _entries.Length * 2);
            var entries = new RaftLogEntry[grown];
            _entries.CopyTo(entries, 0);
            for (int i = _entries.Length; i < grown; i++)
            {
                entries[i] = new RaftLogEntry();
            }

            _entries = entries;
        }

        return _entries[Count++];
    }
}
