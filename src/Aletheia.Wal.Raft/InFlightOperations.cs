namespace Aletheia.Wal.Raft;

/// <summary>
/// Counts the operations in progress that change the log or <c>raft.state</c> (appends, a snapshot's installation,
/// commits, compactions, term and vote updates), so that disposal closes them only once the last has ended. An operation
/// enters before it touches either and exits after it released every lock it took; once <see cref="Close"/> was called,
/// no operation enters. Reads are not counted: disposal never waits for a reader (DotNext's replication holds a read
/// open across a network round trip, and a cluster may dispose its log from inside one). Allocates nothing per operation.
/// </summary>
internal sealed class InFlightOperations
{
    // _state = 2 * (operations in progress) + (1 once closed): the count and the flag change together, in one word, so
    // that an entry and the close cannot pass each other (see TryEnter).
    private const long ClosedFlag = 1;
    private const long OneOperation = 2;

    // Continuations run on the pool: the last Exit runs inside an operation's finally, which must not run the disposal.
    private readonly TaskCompletionSource _drained = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private long _state;

    /// <summary>How many operations are in progress.</summary>
    // Acquire: a fresh look at the word the Interlocked calls below change.
    public long Count => Volatile.Read(ref _state) / OneOperation;

    /// <summary>Enters an operation; false, having entered nothing, once <see cref="Close"/> was called.</summary>
    public bool TryEnter()
    {
        // Full fence: the count and the flag are one word, so either this increment comes first and Close sees the
        // operation (the disposal waits for its Exit), or Close comes first and this sees the flag and backs out. Two
        // separate words would let each side read the other's old value: an operation running on a closed log.
        if ((Interlocked.Add(ref _state, OneOperation) & ClosedFlag) == 0)
        {
            return true;
        }

        Exit();
        return false;
    }

    /// <summary>Ends an operation that <see cref="TryEnter"/> entered; the last one to end after <see cref="Close"/> completes its task.</summary>
    public void Exit()
    {
        // Full fence: the operation's writes (log, raft.state, indexes) happen before the decrement that lets the disposal,
        // which reads the word, close the log and raft.state under them.
        if (Interlocked.Add(ref _state, -OneOperation) == ClosedFlag)
        {
            _drained.TrySetResult();
        }
    }

    /// <summary>Refuses every later entry; the task completes once no operation is in progress. Idempotent.</summary>
    public Task Close()
    {
        // Full fence: the flag is set in the word TryEnter increments (see there). The old value 0 means nothing is in
        // progress (and nothing can enter now): no Exit will see the last one end, so this completes the task.
        if (Interlocked.Or(ref _state, ClosedFlag) == 0)
        {
            _drained.TrySetResult();
        }

        return _drained.Task;
    }
}
