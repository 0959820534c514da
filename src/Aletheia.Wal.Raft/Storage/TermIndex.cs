namespace Aletheia.Wal.Raft.Storage;

/// <summary>
/// The term of every entry in the log, as runs: (first index, term) for each stretch of entries of one term, sorted by
/// first index. Raft asks for terms all the time (every AppendEntries checks the previous entry's), and a leader's log has
/// one run per term it saw, so this answers from memory in a few comparisons without reading the log. Not thread-safe:
/// the owner holds its gate.
/// </summary>
internal sealed class TermIndex
{
    private long[] _starts = new long[16];
    private long[] _terms = new long[16];
    private int _count;

    public int RunCount => _count;

    /// <summary>Records that the entry at <paramref name="index"/> (the next after every recorded one) has <paramref name="term"/>.</summary>
    public void Record(long index, long term)
    {
        if (_count > 0 && _terms[_count - 1] == term)
        {
            return;
        }

        if (_count == _starts.Length)
        {
            Array.Resize(ref _starts, _count * 2);
            Array.Resize(ref _terms, _count * 2);
        }

        _starts[_count] = index;
        _terms[_count] = term;
        _count++;
    }

    /// <summary>The term of the entry at <paramref name="index"/>; 0 before the first run.</summary>
    public long TermAt(long index)
    {
        int low = 0;
        int high = _count - 1;
        int found = -1;
        while (low <= high)
        {
            int middle = (low + high) >>> 1;
            if (_starts[middle] <= index)
            {
                found = middle;
                low = middle + 1;
            }
            else
            {
                high = middle - 1;
            }
        }

        return found < 0 ? 0 : _terms[found];
    }

    /// <summary>Forgets every entry above <paramref name="index"/>.</summary>
    public void TruncateAfter(long index)
    {
        while (_count > 0 && _starts[_count - 1] > index)
        {
            _count--;
        }
    }
}
