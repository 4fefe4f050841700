# Copyright The Lightning AI team.
#
# Licensed under the Apache License, Version 2.0 (the "License");
# you may not use this file except in compliance with the License.
# You may obtain a copy of the License at
#
#     http://www.apache.org/licenses/LICENSE-2.0
#
# Unless required by applicable law or agreed to in writing, software
# distributed under the License is distributed on an "AS IS" BASIS,
# WITHOUT WARRANTIES OR CONDITIONS OF ANY KIND, either express or implied.
# See the License for the specific language governing permissions and
# limitations under the License.
from unittest.mock import Mock

from lightning.pytorch.utilities.consolidate_checkpoint import _format_checkpoint


def test_format_checkpoint():
    # The 'model' key gets renamed to 'state_dict'
    model = Mock()
    checkpoint = {"model": model}
    assert _format_checkpoint(checkpoint) == {"state_dict": model}

    # Optimizer states with keys 'optimizer_0', 'optimizer_1', etc. get converted to a list
    optimizer0 = Mock()
    optimizer1 = Mock()
    checkpoint = {"model": model, "optimizer_1": optimizer1, "optimizer_0": optimizer0, "optimizer_abc": "other"}
    assert _format_checkpoint(checkpoint) == {
        "state_dict": model,
        "optimizer_states": [optimizer0, optimizer1],
        "optimizer_abc": "other",
    }
