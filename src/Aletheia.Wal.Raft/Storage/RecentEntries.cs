namespace Aletheia.Wal.Raft.Storage;

/// <summary>
/// The last entries appended, each in a slot of its own (index modulo the capacity), so that a leader replicates an entry
/// it just appended without waiting until the log has written it (its own write and its followers' then run side by
/// side), and serves the followers that keep up without a reader of the log (a reader opened per read would allocate). A read copies an entry out of its slot (the one copy a read makes), under the owner's gate, so a slot reused by
/// a later entry never changes bytes a reader holds. Slot buffers are reused: nothing is allocated once each has grown
/// to the payloads it sees. Payloads above <see cref="MaxPayloadBytes"/> are not kept (memory stays under 8 MiB): a
/// read of one waits until the log has written it. Not thread-safe: the owner holds its gate (the one that also hands
/// out LSNs).
/// </summary>
internal sealed class RecentEntries
{
    public const int Capacity = 4096;
    public const int MaxPayloadBytes = 2048;

    private readonly Slot[] _slots = new Slot[Capacity];

    /// <summary>Keeps a copy of the entry at <paramref name="index"/>.</summary>
    public void Put(long index, long term, int? commandId, bool isConfiguration, ReadOnlySpan<byte> payload)
    {
        ref Slot slot = ref _slots[index & (Capacity - 1)];
        if (payload.Length > MaxPayloadBytes)
        {
            slot.Index = 0; // not kept: a read finds the slot empty and reads the entry from the log
            return;
        }

        if (slot.Buffer is null || slot.Buffer.Length < payload.Length)
        {
            slot.Buffer = new byte[Math.Max(64, (int)Math.Min(Array.MaxLength, System.Numerics.BitOperations.RoundUpToPowerOf2((uint)payload.Length)))];
        }

        payload.CopyTo(slot.Buffer);
        slot.Index = index;
        slot.Term = term;
        slot.CommandId = commandId;
        slot.IsConfiguration = isConfiguration;
        slot.Length = payload.Length;
    }

    /// <summary>Copies the entry at <paramref name="index"/> into <paramref name="list"/>; false when its slot holds another entry now.</summary>
    public bool TryCopyTo(long index, RaftEntryList list)
    {
        if (!Holds(index))
        {
            return false;
        }

        ref Slot slot = ref _slots[index & (Capacity - 1)];
        list.Add(slot.Term, slot.CommandId, slot.IsConfiguration, slot.Buffer.AsSpan(0, slot.Length));
        return true;
    }

    /// <summary>
    /// The last index of the run from <paramref name="from"/> to at most <paramref name="to"/> whose entries are not held
    /// (<paramref name="from"/> is not); <paramref name="last"/> is the last index appended (slots hold none older than
    /// <see cref="Capacity"/> entries before it, so those are not looked at one by one).
    /// </summary>
    public long LastMissing(long from, long to, long last)
    {
        long next = Math.Max(from + 1, Math.Min(last - Capacity + 1, to + 1));
        while (next <= to && !Holds(next))
        {
            next++;
        }

        return next - 1;
    }

    /// <summary>Forgets every entry above <paramref name="index"/> (a cut dropped them).</summary>
    public void ForgetAbove(long index)
    {
        for (int i = 0; i < _slots.Length; i++)
        {
            if (_slots[i].Index > index)
            {
                _slots[i].Index = 0;
            }
        }
    }

    private bool Holds(long index)
    {
        ref Slot slot = ref _slots[index & (Capacity - 1)];
        return slot.Index == index && slot.Buffer is not null;
    }

    private struct Slot
    {
        public long Index;
        public long Term;
        public int? CommandId;
        public bool IsConfiguration;
        public byte[]? Buffer;
        public int Length;
    }
}
